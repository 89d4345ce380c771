using System.Runtime.InteropServices;

namespace Transport.UnixNative;

/// <summary>
/// Whole messages on a <c>SOCK_SEQPACKET</c> connection, boundaries preserved: one
/// <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/> is one packet for the peer, and one packet from the peer is one
/// <see cref="ReceiveAsync(CancellationToken)"/>. Present on connections of endpoints bound with
/// <c>ListenUnixSeqpacketMessages</c>; use it instead of reading or writing
/// <c>ConnectionContext.Transport</c>, which then carries length-prefixed frames.
/// </summary>
public interface IUnixMessageFeature
{
    /// <summary>The largest message <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/> accepts: the socket's send buffer less the kernel's overhead.</summary>
    int MaxMessageSize { get; }

    /// <summary>
    /// The next message from the peer (an empty packet is an empty message), or <see langword="null"/>
    /// once the peer has shut down or closed the connection.
    /// </summary>
    /// <remarks>Descriptors that came with the message are closed: use the overload that takes them to keep them.</remarks>
    ValueTask<ReadOnlyMemory<byte>?> ReceiveAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The next message from the peer, or <see langword="null"/> once the peer has shut down or closed the connection; the
    /// descriptors that arrived with its packet (<c>SCM_RIGHTS</c>, close-on-exec) are added to
    /// <paramref name="descriptors"/>, in order, and are the caller's to dispose.
    /// </summary>
    ValueTask<ReadOnlyMemory<byte>?> ReceiveAsync(ICollection<SafeHandle>? descriptors, CancellationToken cancellationToken = default);

    /// <summary>Sends <paramref name="message"/> as one packet.</summary>
    /// <exception cref="ArgumentException">The message is empty (a peer reads an empty packet as end of stream) or larger than <see cref="MaxMessageSize"/>.</exception>
    ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends <paramref name="message"/> as one packet with <paramref name="descriptors"/> attached (<c>SCM_RIGHTS</c>).
    /// The transport keeps each descriptor open until the kernel has taken it, so the caller may dispose them
    /// as soon as this returns; the peer gets its own copies.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The message is empty or too large, or more than 253 descriptors are given (the kernel's <c>SCM_MAX_FD</c>).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The connection is closed, or a descriptor is.</exception>
    ValueTask SendAsync(ReadOnlyMemory<byte> message, IReadOnlyList<SafeHandle> descriptors, CancellationToken cancellationToken = default);
}
