using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Internal;

/// <summary>Recognises descriptors handed over by a supervisor (systemd socket activation).</summary>
internal static class InheritedSocket
{
    /// <summary>Whether the handle is a listening AF_UNIX stream or seqpacket socket.</summary>
    public static bool IsUnix(FileHandleEndPoint endPoint, out bool isPacket)
    {
        isPacket = false;
        var fd = (int)endPoint.FileHandle;
        if (Socket.GetIntOption(fd, Socket.SOL_SOCKET, Socket.SO_DOMAIN, out var domain) != 0 || domain != Socket.AF_UNIX
            || Socket.GetIntOption(fd, Socket.SOL_SOCKET, Socket.SO_TYPE, out var type) != 0
            || Socket.GetIntOption(fd, Socket.SOL_SOCKET, Socket.SO_ACCEPTCONN, out var listening) != 0 || listening == 0)
        {
            return false;
        }
        isPacket = type == Socket.SOCK_SEQPACKET;
        return isPacket || type == Socket.SOCK_STREAM;
    }
}
