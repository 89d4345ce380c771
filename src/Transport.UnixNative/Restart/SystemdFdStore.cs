using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Restart;

/// <summary>
/// sd_pid_notify_with_fds(FDSTORE=1): hands systemd a duplicate of each listening socket, which it
/// keeps across restarts of the service (<c>FileDescriptorStoreMax=</c>) and passes back with
/// LISTEN_FDS, named by FDNAME. New clients wait in the backlog while the service restarts.
/// </summary>
internal static class SystemdFdStore
{
    private const int SOCK_DGRAM = 2;

    /// <summary>Stores every listener's socket; their files then stay on shutdown (the next process serves them).</summary>
    public static unsafe void Store(IReadOnlyList<UnixConnectionListener> listeners, ILogger logger)
    {
        var target = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(target))
        {
            return;
        }
        var address = UnixSocketAddress.Parse(target, isSeqpacket: false);
        using var socket = Interop.Socket.Create(Interop.Socket.AF_UNIX, SOCK_DGRAM);
        Span<byte> sockaddr = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(address.IsAbstract, address.Name, sockaddr);
        int rc;
        fixed (byte* p = sockaddr)
        {
            rc = socket.IsInvalid ? -1 : Interop.Socket.connect(socket, p, length);
        }
        if (rc != 0)
        {
            TransportLog.FdStoreFailed(logger, target, "(all)", NativeError.Exception("Cannot reach NOTIFY_SOCKET", target, Libc.LastErrno));
            return;
        }
        foreach (var listener in listeners.Where(l => l.Address is not null))
        {
            var name = listener.FdName ?? "unix";
            var added = false;
            try
            {
                listener.Handle.DangerousAddRef(ref added);
                var message = System.Text.Encoding.UTF8.GetBytes($"FDSTORE=1\nFDNAME={name}\n");
                if (Message.SendWithDescriptors(socket, message, [listener.Handle.Fd], out var errno) < 0)
                {
                    TransportLog.FdStoreFailed(logger, target, listener.Address!.DisplayName, NativeError.Exception("Cannot send FDSTORE=1 to", target, errno));
                    continue;
                }
                // The next process of this service serves the same socket: our shutdown must leave its file.
                listener.KeepSocketFile();
                TransportLog.FdStored(logger, listener.Address!.DisplayName, name);
            }
            finally
            {
                if (added)
                {
                    listener.Handle.DangerousRelease();
                }
            }
        }
    }
}
