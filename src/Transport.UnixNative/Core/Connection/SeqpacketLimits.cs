namespace Transport.UnixNative.Core.Connection;

/// <summary>Packet sizes for SOCK_SEQPACKET connections.</summary>
internal static class SeqpacketLimits
{
    /// <summary>
    /// The largest packet a peer can send: the kernel refuses a packet larger than the sender's
    /// send buffer, which an unprivileged process can raise to twice <c>net.core.wmem_max</c>.
    /// </summary>
    public static readonly int MaxPacketSize = ReadMaxPacketSize();

    /// <summary>
    /// The packets we send: small enough for a peer reading 64 KiB at a time (Python, socat)
    /// and for several to be in flight in the default send buffer.
    /// </summary>
    public const int SendPacketSize = Interop.Socket.SeqpacketSendSize;

    private static int ReadMaxPacketSize()
    {
        const int fallback = 2 * 212992;
        try
        {
            var text = File.ReadAllText("/proc/sys/net/core/wmem_max").Trim();
            return int.TryParse(text, out var wmemMax) && wmemMax > 0 ? (int)Math.Min(2L * wmemMax, 16 * 1024 * 1024) : fallback;
        }
        catch (IOException)
        {
            return fallback;
        }
        catch (UnauthorizedAccessException)
        {
            return fallback;
        }
    }
}
