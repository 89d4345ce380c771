namespace Transport.UnixNative;

/// <summary>
/// Whole messages on a <c>SOCK_SEQPACKET</c> connection, boundaries preserved: one
/// <see cref="SendAsync"/> is one packet for the peer, and one packet from the peer is one
/// <see cref="ReceiveAsync"/>. Present on connections of endpoints bound with
/// <c>ListenUnixSeqpacketMessages</c>; use it instead of reading or writing
/// <c>ConnectionContext.Transport</c>, which then carries length-prefixed frames.
/// </summary>
public interface IUnixMessageFeature
{
    /// <summary>The largest message <see cref="SendAsync"/> accepts: the socket's send buffer less the kernel's overhead.</summary>
    int MaxMessageSize { get; }

    /// <summary>
    /// The next message from the peer (an empty packet is an empty message), or <see langword="null"/>
    /// once the peer has shut down or closed the connection.
    /// </summary>
    ValueTask<ReadOnlyMemory<byte>?> ReceiveAsync(CancellationToken cancellationToken = default);

    /// <summary>Sends <paramref name="message"/> as one packet.</summary>
    /// <exception cref="ArgumentException">The message is empty (a peer reads an empty packet as end of stream) or larger than <see cref="MaxMessageSize"/>.</exception>
    ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default);
}
