using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Restart;

/// <summary>Where a listening socket this process did not create came from.</summary>
internal enum InheritedFrom
{
    Systemd,
    Predecessor,
}

/// <summary>
/// A listening unix socket this process did not create: passed by systemd (<c>LISTEN_FDS</c>) or by
/// a predecessor (hand-over). Each binding that uses it gets its own duplicate, so this original
/// stays open for the process's life and can be handed on again.
/// </summary>
/// <param name="FdName">systemd's <c>FileDescriptorName=</c> (or <c>--fdname</c>); <c>unknown</c> when none was given.</param>
/// <param name="Address">The address the socket is bound to (getsockname), and its type (SO_TYPE).</param>
/// <param name="Fd">The original descriptor, close-on-exec.</param>
/// <param name="OwnedFile">The socket file this process may remove on its last shutdown: only one a predecessor created and handed on, never one systemd made.</param>
/// <param name="Source">systemd or a predecessor.</param>
internal sealed record InheritedListener(string FdName, UnixSocketAddress Address, SafeFdHandle Fd, SocketFile.FileIdentity? OwnedFile, InheritedFrom Source);
