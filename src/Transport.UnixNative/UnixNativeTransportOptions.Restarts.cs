namespace Transport.UnixNative;

public sealed partial class UnixNativeTransportOptions
{
    /// <summary>
    /// The control socket for handing the listening sockets to a successor process: a path (or
    /// <c>@name</c>). At startup the process connects to it; if a predecessor of the same uid
    /// answers, it takes every unix listening socket the predecessor serves instead of binding
    /// (the kernel's backlog holds new connections meanwhile), starts serving them, and only then
    /// tells the predecessor to stop accepting and drain. If nobody answers it binds normally. Then
    /// it listens on the path itself (mode 0600, set before the file appears at the path) for its own
    /// successor; an abstract control address is not bound again but taken over from the predecessor.
    /// Each exchange on the control socket has a deadline of 5 seconds (the successor says it is still
    /// starting every second, for at most 5 minutes): a peer that goes quiet is dropped, so it cannot
    /// hold the hand-over from a real successor, and descriptors a peer attaches are discarded.
    /// </summary>
    /// <remarks>Defaults to <see langword="null"/>: no hand-over.</remarks>
    public string? HandoverSocketPath { get; set; }

    /// <summary>
    /// Whether to hand systemd a copy of every listening socket once the application has started
    /// (<c>FDSTORE=1</c> through <c>NOTIFY_SOCKET</c>), so that it keeps them across restarts of the
    /// service and passes them back with socket activation: clients wait in the backlog instead of
    /// being refused. Needs <c>FileDescriptorStoreMax=</c> in the service unit; the socket files
    /// are then left in place on shutdown. Does nothing without <c>NOTIFY_SOCKET</c>.
    /// </summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public bool UseSystemdFileDescriptorStore { get; set; }
}
