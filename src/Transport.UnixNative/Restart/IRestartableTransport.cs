using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Restart;

/// <summary>
/// What a restart needs from the transport: the sockets it inherited and the listeners it bound.
/// The factory, above Restart, answers it; Restart and Hosting find it among Kestrel's listener factories.
/// </summary>
internal interface IRestartableTransport
{
    /// <summary>Sockets from systemd or a predecessor, taken on first use (before Kestrel binds).</summary>
    InheritedSockets Inherited { get; }

    bool HasGatheredInherited { get; }

    /// <summary>Every listener currently bound, for a hand-over.</summary>
    IReadOnlyList<UnixConnectionListener> Listeners { get; }

    /// <summary>Lets the listeners taken from a predecessor accept: this process is ready to serve.</summary>
    void OpenAccepts();

    /// <summary>The predecessor no longer serves: the socket files it created are ours to remove now.</summary>
    void TakeOverSocketFiles();

    /// <summary>
    /// Inherited sockets no endpoint took (the new configuration dropped one): a predecessor's is
    /// closed, and its file removed once it is ours, so clients are refused instead of queueing
    /// forever; systemd's stays (systemd holds it anyway) with a warning.
    /// </summary>
    void ReleaseUnservedInherited(bool ownsPredecessorFiles);

    /// <summary>Stops accepting on every listener (new clients queue for the successor); connections carry on.</summary>
    Task StopAcceptingAsync();
}
