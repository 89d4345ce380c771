using System.Runtime.InteropServices;

namespace Transport.UnixNative;

/// <summary>
/// Open files the peer passed over the connection (<c>SCM_RIGHTS</c>): in a request, the descriptors
/// that arrived with that request's bytes, in arrival order. Each one taken is the caller's to dispose
/// (a close-on-exec <see cref="Microsoft.Win32.SafeHandles.SafeFileHandle"/>: read it with <see cref="RandomAccess"/> or a <see cref="FileStream"/>).
/// Present on every HTTP/1.x request and stream connection served by this transport.
/// </summary>
/// <remarks>
/// <para>
/// A descriptor travels with the bytes of the <c>sendmsg</c> that carried it; the kernel hands it over with
/// the first of those bytes. It belongs to the request that contains that first byte: descriptors sent
/// with a request's headers can be taken as soon as the handler runs, descriptors sent with body bytes
/// once the handler has read the body up to them. Descriptors sent with a later (pipelined) request's
/// bytes are never visible to an earlier request.
/// </para>
/// <para>
/// When a request ends (its handler has returned), the server reads whatever is left of its body and
/// closes every descriptor of that request the handler did not take. Descriptors left on a connection
/// when it closes are closed too. Over HTTP/2 the streams' frames interleave, so no descriptor can be
/// attributed to a request: such requests see none, and the connection closes any that arrive.
/// A peer queueing more than 1024 descriptors that no request takes is disconnected.
/// </para>
/// </remarks>
public interface IUnixFileDescriptorsFeature
{
    /// <summary>How many descriptors the current request could take now.</summary>
    int Count { get; }

    /// <summary>Takes the next descriptor, or <see langword="null"/> if none (more may come with body bytes not read yet).</summary>
    SafeHandle? TryTake();

    /// <summary>Takes every descriptor available now, in arrival order.</summary>
    IReadOnlyList<SafeHandle> TakeAll();
}
