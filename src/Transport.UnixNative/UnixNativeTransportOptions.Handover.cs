namespace Transport.UnixNative;

public sealed partial class UnixNativeTransportOptions
{
    /// <summary>
    /// The control socket for handing the listening sockets to a successor process: a path (or
    /// <c>@name</c>). At startup the process connects to it; if a predecessor of the same uid
    /// answers, it takes every unix listening socket the predecessor serves instead of binding
    /// (the kernel's backlog holds new connections meanwhile), starts serving them, and only then
    /// tells the predecessor to stop accepting and drain. If nobody answers it binds normally. Then
    /// it listens on the path itself (mode 0600) for its own successor.
    /// </summary>
    /// <remarks>Defaults to <see langword="null"/>: no hand-over.</remarks>
    public string? HandoverSocketPath { get; set; }
}
