using System.Net.Sockets;
using Libc = Transport.UnixNative.Interop.Libc;

namespace Transport.UnixNative.Client;

/// <summary>
/// Two connected unix sockets with no name (socketpair(2)): for a parent and its child process, a desktop
/// app and its backend, or tests without a socket file. Serve one end with Kestrel
/// (<c>ListenConnectedHandle</c>) and call it through the other with <see cref="UnixSocketHttpHandler.ForConnectedSocket"/>.
/// </summary>
public static class UnixSocketPair
{
    /// <summary>Creates a connected pair; both ends are close-on-exec, so no child process inherits them by accident.</summary>
    /// <param name="socketType"><see cref="SocketType.Stream"/> or <see cref="SocketType.Seqpacket"/>.</param>
    /// <exception cref="SocketException">socketpair(2) failed (for example EMFILE).</exception>
    public static (Socket First, Socket Second) Create(SocketType socketType = SocketType.Stream)
    {
        if (socketType is not (SocketType.Stream or SocketType.Seqpacket))
        {
            throw new ArgumentOutOfRangeException(nameof(socketType), socketType, "A unix socket pair is SocketType.Stream or SocketType.Seqpacket.");
        }
        var errno = Interop.Socket.CreateRawPair((int)socketType, out var first, out var second);
        if (errno != 0)
        {
            throw new SocketException(errno, $"socketpair failed: {Libc.Describe(errno)}");
        }
        return (new Socket(new SafeSocketHandle(first, ownsHandle: true)), new Socket(new SafeSocketHandle(second, ownsHandle: true)));
    }

    /// <summary>
    /// Clears close-on-exec on <paramref name="socket"/>, on purpose: a child process started after this
    /// inherits it under the same number (<c>socket.SafeHandle.DangerousGetHandle()</c>; tell the child which).
    /// Close your copy once the child runs, so that only the child holds that end.
    /// </summary>
    public static void MakeInheritable(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var errno = Libc.SetCloseOnExec(socket.SafeHandle, closeOnExec: false);
        if (errno != 0)
        {
            throw new SocketException(errno, $"fcntl(F_SETFD) failed: {Libc.Describe(errno)}");
        }
    }
}
