using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Loop;

namespace Transport.UnixNative.Core.Listener;

/// <summary>Socket setup: a new socket bound and listening (its file prepared and guarded), or an inherited one adopted.</summary>
internal sealed partial class UnixConnectionListener
{
    private static bool ShouldReceiveDescriptors(UnixSocketAddress? address, UnixNativeTransportOptions options)
        => address is not null && options.ReceiveDescriptorsOn.Contains(address.DisplayName);

    /// <summary>Creates, binds and listens on a socket for <paramref name="address"/>, applying the socket file rules.</summary>
    public static async ValueTask<UnixConnectionListener> BindAsync(UnixSocketAddress address, UnixNativeTransportOptions options, IListenerAccess access,
        EventLoopGroup loops, Action releaseLoops, ILogger logger)
    {
        var fd = Interop.Socket.Create(Interop.Socket.AF_UNIX, address.SocketType);
        if (fd.IsInvalid)
        {
            throw NativeError.Exception("Cannot create a socket for", address.DisplayName, Libc.LastErrno);
        }
        SocketFileLock? fileLock = null;
        UnixConnectionListener? listener = null;
        try
        {
            if (!address.IsAbstract && SocketFile.PrepareForBind(address, out fileLock) == SocketFile.Preparation.RemovedStaleSocket)
            {
                TransportLog.StaleSocketRemoved(logger, address.Name);
            }
            Bind(fd, address);
            var identity = address.IsAbstract ? null : SocketFile.Identify(address.Name);
            try
            {
                access.PrepareSocketFile(address, identity, logger);
                if (Interop.Socket.listen(fd, options.Backlog) != 0)
                {
                    throw NativeError.Exception("Cannot listen on unix socket", address.DisplayName, Libc.LastErrno);
                }
                listener = new UnixConnectionListener(address.ToEndPoint(), fd, address, identity, fileLock, address.IsSeqpacket, loops, releaseLoops, logger, access.AdmissionFor(address));
                listener.ReceivesDescriptors = ShouldReceiveDescriptors(address, options);
                await listener.RegisterAsync().ConfigureAwait(false);
                return listener;
            }
            catch
            {
                if (identity is { } owned)
                {
                    SocketFile.DeleteIfOwned(address.Name, owned);
                }
                throw;
            }
        }
        catch
        {
            listener?._retryTimer.Dispose();
            fd.Dispose();
            fileLock?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Listens on an inherited descriptor (systemd socket activation, a predecessor's hand-over); the file
    /// belongs to whoever created it, unless <paramref name="ownedFile"/> says a predecessor passed it on.
    /// </summary>
    public static async ValueTask<UnixConnectionListener> AdoptAsync(EndPoint endPoint, SafeFdHandle fd, UnixSocketAddress? address,
        SocketFile.FileIdentity? ownedFile, bool isPacket, string? fdName, bool fromPredecessor,
        UnixNativeTransportOptions options, IListenerAccess access, EventLoopGroup loops, Action releaseLoops, ILogger logger)
    {
        var flags = Libc.fcntl(fd, Libc.F_GETFL, 0);
        if (flags < 0 || Libc.fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK) < 0)
        {
            throw NativeError.Exception("Cannot make inherited socket non-blocking:", address?.DisplayName ?? $"fd {fd.Fd}", Libc.LastErrno);
        }
        var listener = new UnixConnectionListener(endPoint, fd, address, ownedFile, null, isPacket, loops, releaseLoops, logger, access.AdmissionFor(address)) { FdName = fdName };
        listener.ReceivesDescriptors = ShouldReceiveDescriptors(address, options);
        if (fromPredecessor)
        {
            listener.HoldForPredecessor();
        }
        try
        {
            await listener.RegisterAsync().ConfigureAwait(false);
        }
        catch
        {
            listener._retryTimer.Dispose();
            throw;
        }
        return listener;
    }

    private static unsafe void Bind(SafeFdHandle fd, UnixSocketAddress address)
    {
        Span<byte> sockaddr = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(address.IsAbstract, address.Name, sockaddr);
        int rc;
        fixed (byte* p = sockaddr)
        {
            rc = Interop.Socket.bind(fd, p, length);
        }
        if (rc == 0)
        {
            return;
        }
        var errno = Libc.LastErrno;
        if (errno == Libc.EADDRINUSE)
        {
            throw new AddressInUseException(address.IsAbstract
                ? $"Abstract unix socket '{address.DisplayName}' is in use by another socket ({Libc.Describe(errno)})."
                : $"Unix socket '{address.DisplayName}' is in use ({Libc.Describe(errno)}).");
        }
        throw NativeError.Exception("Cannot bind unix socket", address.DisplayName, errno);
    }
}
