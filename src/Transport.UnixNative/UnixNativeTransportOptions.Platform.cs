using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative;

public sealed partial class UnixNativeTransportOptions
{
    /// <summary>
    /// On an operating system other than Linux, serves unix socket <em>paths</em> with Kestrel's own
    /// Sockets transport (with one warning) instead of failing startup. Abstract addresses, seqpacket,
    /// activated and connected sockets still fail to bind there, naming the address and the OS.
    /// </summary>
    /// <remarks>
    /// Defaults to <see langword="false"/>: on any OS but Linux, startup fails with one line naming
    /// the OS and what to use instead. The transport itself needs Linux (epoll, <c>SO_PEERCRED</c>,
    /// abstract addresses).
    /// </remarks>
    public bool FallBackToSocketsTransportOnUnsupportedOS { get; set; }

    /// <summary>The OS this process runs on when it is not Linux, null on Linux. Tests pretend another OS here.</summary>
    internal Func<string?> UnsupportedOS { get; set; } = Core.Diagnostics.TransportPlatform.UnsupportedOS;
}
