using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Restart;

/// <summary>Recognises descriptors handed over by a supervisor (systemd socket activation) or a predecessor.</summary>
internal static class InheritedSocket
{
    /// <summary>Whether the handle is a listening AF_UNIX stream or seqpacket socket.</summary>
    public static bool IsUnix(FileHandleEndPoint endPoint, out bool isPacket) => IsUnixListener((int)endPoint.FileHandle, out isPacket);

    /// <summary>Whether <paramref name="fd"/> is a listening AF_UNIX stream or seqpacket socket.</summary>
    public static bool IsUnixListener(int fd, out bool isPacket)
    {
        isPacket = false;
        if (Socket.GetIntOption(fd, Socket.SOL_SOCKET, Socket.SO_DOMAIN, out var domain) != 0 || domain != Socket.AF_UNIX
            || Socket.GetIntOption(fd, Socket.SOL_SOCKET, Socket.SO_TYPE, out var type) != 0
            || Socket.GetIntOption(fd, Socket.SOL_SOCKET, Socket.SO_ACCEPTCONN, out var listening) != 0 || listening == 0)
        {
            return false;
        }
        isPacket = type == Socket.SOCK_SEQPACKET;
        return isPacket || type == Socket.SOCK_STREAM;
    }

    /// <summary>Whether <paramref name="fd"/> is a connected (not listening) stream or seqpacket socket of any family: what inetd-style activation passes.</summary>
    public static bool IsConnectedStream(int fd)
        => Socket.GetIntOption(fd, Socket.SOL_SOCKET, Socket.SO_ACCEPTCONN, out var listening) == 0 && listening == 0
            && Socket.GetIntOption(fd, Socket.SOL_SOCKET, Socket.SO_TYPE, out var type) == 0
            && type is Socket.SOCK_STREAM or Socket.SOCK_SEQPACKET;

    /// <summary>The bound address of a listening unix socket (getsockname), with its kind from SO_TYPE; false for anything else or an unnamed socket.</summary>
    public static unsafe bool TryGetAddress(int fd, [NotNullWhen(true)] out UnixSocketAddress? address)
    {
        address = null;
        if (!IsUnixListener(fd, out var isPacket))
        {
            return false;
        }
        Span<byte> sockaddr = stackalloc byte[SockAddrUn.Size];
        int length = SockAddrUn.Size;
        using var borrowed = new SafeFdHandle(fd, ownsHandle: false);
        fixed (byte* p = sockaddr)
        {
            if (Socket.getsockname(borrowed, p, &length) != 0)
            {
                return false;
            }
        }
        var (isAbstract, name) = SockAddrUn.Decode(sockaddr[..Math.Min(length, SockAddrUn.Size)]);
        if (name.Length == 0)
        {
            return false;
        }
        address = new UnixSocketAddress(name, isAbstract, isPacket);
        return true;
    }
}
