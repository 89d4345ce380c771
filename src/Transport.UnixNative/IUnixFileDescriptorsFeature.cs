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
/// A descriptor travels with the bytes of the <c>sendmsg</c> that carried it. The kernel hands it over with a
/// read that ends within those bytes (a read may begin with bytes sent earlier, never later), so the
/// transport ties it to the last byte of that read. The descriptor belongs to the request containing that
/// byte, and can be taken once the server has consumed up to it: as soon as the handler runs when the
/// client sent it with the request's head in a <c>sendmsg</c> of its own (as this project's client does),
/// after reading the body when it came with body bytes. A later (pipelined) request's descriptors are
/// never visible to an earlier request.
/// </para>
/// <para>
/// When a request ends (its handler has returned), the server reads whatever is left of its body and
/// closes every descriptor of that request the handler did not take. Descriptors left on a connection
/// when it closes are closed too. Over HTTP/2 the streams' frames interleave, so no descriptor can be
/// attributed to a request: such requests see none, and any that arrive wait (counted against the limit
/// below) until the connection closes them.
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
