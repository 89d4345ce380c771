using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Internal;

/// <summary>
/// A listening unix socket. Kestrel's accept loop calls <see cref="AcceptAsync"/>, which tries
/// accept4 first and waits for readiness only on EAGAIN: the kernel backlog is the queue, and
/// Kestrel's pace is the backpressure.
/// </summary>
internal sealed class UnixConnectionListener : IConnectionListener, IEventHandler
{
    // The runtime's representation of an unnamed peer (the usual case: clients rarely bind).
    private static readonly EndPoint s_unnamedPeer = new UnixDomainSocketEndPoint("/").Create(new SocketAddress(AddressFamily.Unix, SockAddrUn.PathOffset));

    private readonly SafeFdHandle _fd;
    private readonly UnixSocketAddress? _address;
    private readonly SocketFile.FileIdentity? _fileIdentity;
    private readonly EventLoopGroup _loops;
    private readonly Action _releaseLoops;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly bool _isPacket;
    private readonly PeerAccess? _peerAccess;
    private ulong _token;
    private int _readySequence;
    private TaskCompletionSource<bool>? _readyWaiter;
    private bool _unbound;
    private bool _disposed;
    private int _unbindStarted;

    private UnixConnectionListener(EndPoint endPoint, SafeFdHandle fd, UnixSocketAddress? address, SocketFile.FileIdentity? fileIdentity,
        bool isPacket, EventLoopGroup loops, Action releaseLoops, ILogger logger, PeerAccess? peerAccess)
    {
        EndPoint = endPoint;
        _connectionLocalEndPoint = ConnectionLocalEndPoint(endPoint);
        _fd = fd;
        _address = address;
        _fileIdentity = fileIdentity;
        _isPacket = isPacket;
        _loops = loops;
        _releaseLoops = releaseLoops;
        _logger = logger;
        _peerAccess = peerAccess;
    }

    public EndPoint EndPoint { get; }

    // Kestrel's meter tags network.transport=unix and the path only for a UnixDomainSocketEndPoint
    // (anything else gets its AddressFamily, "Unix"), so a seqpacket connection's local end is one;
    // its remote end stays a UnixSeqpacketEndPoint, which tells the socket type.
    private readonly EndPoint _connectionLocalEndPoint;

    private static EndPoint ConnectionLocalEndPoint(EndPoint listener) => listener is UnixSeqpacketEndPoint seqpacket
        ? new UnixDomainSocketEndPoint(seqpacket.IsAbstract ? "\0" + seqpacket.Address[1..] : seqpacket.Address)
        : listener;

    /// <summary>Set by the factory right after binding, before Kestrel accepts.</summary>
    public Metrics.ListenerMetrics? Metrics { get; set; }

    /// <summary>Creates, binds and listens on a socket for <paramref name="address"/>, applying the socket file rules.</summary>
    public static async ValueTask<UnixConnectionListener> BindAsync(UnixSocketAddress address, UnixNativeTransportOptions options,
        EventLoopGroup loops, Action releaseLoops, ILogger logger)
    {
        var fd = Interop.Socket.Create(Interop.Socket.AF_UNIX, address.SocketType);
        if (fd.IsInvalid)
        {
            throw NativeError.Exception("Cannot create a socket for", address.DisplayName, Libc.LastErrno);
        }
        try
        {
            if (!address.IsAbstract && SocketFile.PrepareForBind(address) == SocketFile.Preparation.RemovedStaleSocket)
            {
                TransportLog.StaleSocketRemoved(logger, address.Name);
            }
            Bind(fd, address);
            var identity = address.IsAbstract ? null : SocketFile.Identify(address.Name);
            try
            {
                SocketFilePermissions.Apply(address, identity, options, logger);
                if (Interop.Socket.listen(fd, options.Backlog) != 0)
                {
                    throw NativeError.Exception("Cannot listen on unix socket", address.DisplayName, Libc.LastErrno);
                }
                var listener = new UnixConnectionListener(address.ToEndPoint(), fd, address, identity, address.IsSeqpacket, loops, releaseLoops, logger, PeerAccess.From(options));
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
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Listens on an inherited descriptor (systemd socket activation); the file belongs to whoever created it.</summary>
    public static async ValueTask<UnixConnectionListener> AdoptAsync(FileHandleEndPoint endPoint, SafeFdHandle fd, bool isPacket,
        UnixNativeTransportOptions options, EventLoopGroup loops, Action releaseLoops, ILogger logger)
    {
        var flags = Libc.fcntl(fd, Libc.F_GETFL, 0);
        if (flags < 0 || Libc.fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK) < 0)
        {
            throw NativeError.Exception("Cannot make inherited socket non-blocking:", $"fd {endPoint.FileHandle}", Libc.LastErrno);
        }
        var listener = new UnixConnectionListener(endPoint, fd, null, null, isPacket, loops, releaseLoops, logger, PeerAccess.From(options));
        await listener.RegisterAsync().ConfigureAwait(false);
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

    private Task RegisterAsync() => _loops.AcceptLoop.RunAsync(() => _token = _loops.AcceptLoop.Register(_fd, this, Epoll.EPOLLIN));

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            int sequence;
            lock (_gate)
            {
                if (_unbound)
                {
                    return null;
                }
                sequence = _readySequence;
            }

            var connection = TryAccept(out var errno);
            if (connection is not null)
            {
                return connection;
            }
            switch (errno)
            {
                case Libc.EAGAIN:
                    break;
                case Libc.EINTR:
                    continue;
                case Libc.ECONNABORTED:
                    Metrics?.RefusedByError(); // the peer gave up before accept4 took it
                    continue;
                case Libc.EMFILE:
                case Libc.ENFILE:
                case Libc.ENOBUFS:
                case Libc.ENOMEM:
                    // Out of descriptors or memory: the connection waits in the backlog. Log and retry
                    // shortly rather than spin or stop accepting for good.
                    Metrics?.AcceptError(errno);
                    TransportLog.AcceptError(_logger, EndPoint.ToString() ?? "", NativeError.Exception("accept4", errno));
                    await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
                    continue;
                case Libc.EBADF:
                case Libc.EINVAL:
                    return null; // unbound concurrently
                default:
                    throw NativeError.Exception("accept4 on", EndPoint.ToString() ?? "", errno);
            }

            TaskCompletionSource<bool> waiter;
            lock (_gate)
            {
                if (_unbound)
                {
                    return null;
                }
                if (sequence != _readySequence)
                {
                    continue; // readiness arrived while we tried: try again
                }
                waiter = _readyWaiter ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            if (!await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }
        }
    }

    private unsafe UnixConnection? TryAccept(out int errno)
    {
        Span<byte> sockaddr = stackalloc byte[SockAddrUn.Size];
        int length = SockAddrUn.Size;
        int fd;
        var added = false;
        try
        {
            // Hold the listening descriptor so a concurrent unbind cannot close it mid-call.
            _fd.DangerousAddRef(ref added);
            fixed (byte* p = sockaddr)
            {
                fd = Interop.Socket.accept4(_fd.Fd, p, &length, Interop.Socket.SOCK_NONBLOCK | Interop.Socket.SOCK_CLOEXEC);
            }
        }
        catch (ObjectDisposedException)
        {
            errno = Libc.EBADF;
            return null;
        }
        finally
        {
            if (added)
            {
                _fd.DangerousRelease();
            }
        }
        if (fd < 0)
        {
            errno = Libc.LastErrno;
            return null;
        }
        errno = 0;
        var handle = new SafeFdHandle(fd);
        if (!PeerCredentials.Admit(fd, _peerAccess, _logger, EndPoint, out var peer, out var peerGroups))
        {
            handle.Dispose(); // refused before a byte is read; AcceptAsync moves on to the next connection
            Metrics?.RefusedByAllowlist();
            errno = Libc.EINTR; // try the next one at once
            return null;
        }
        var remote = RemoteEndPointOf(sockaddr[..Math.Min(length, SockAddrUn.Size)]);
        var connection = new UnixConnection(handle, _loops.Next(), _connectionLocalEndPoint, remote, _isPacket, _logger, _address?.PreserveMessages ?? false);
        if (peer is { } credentials)
        {
            connection.Features.Set<IUnixPeerCredentialsFeature>(new UnixPeerCredentialsFeature(credentials, peerGroups, handle));
        }
        connection.Metrics = Metrics;
        Metrics?.ConnectionAccepted();
        connection.Start();
        return connection;
    }

    private EndPoint RemoteEndPointOf(ReadOnlySpan<byte> sockaddr)
    {
        var (isAbstract, name) = SockAddrUn.Decode(sockaddr);
        if (name.Length == 0)
        {
            return _isPacket ? UnixSeqpacketEndPoint.Unnamed : s_unnamedPeer;
        }
        var address = isAbstract ? "@" + name : name;
        return _isPacket ? new UnixSeqpacketEndPoint(address) : new UnixDomainSocketEndPoint(isAbstract ? "\0" + name : name);
    }

    public void OnEvents(uint events)
    {
        TaskCompletionSource<bool>? waiter;
        lock (_gate)
        {
            _readySequence++;
            waiter = _readyWaiter;
            _readyWaiter = null;
        }
        waiter?.TrySetResult(true);
    }

    public void OnLoopStopping() => StopAccepting();

    private void StopAccepting()
    {
        TaskCompletionSource<bool>? waiter;
        lock (_gate)
        {
            if (_unbound)
            {
                return;
            }
            _unbound = true;
            waiter = _readyWaiter;
            _readyWaiter = null;
        }
        waiter?.TrySetResult(false);
    }

    public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _unbindStarted, 1) != 0)
        {
            return;
        }
        StopAccepting();
        if (!_loops.AcceptLoop.IsStopped)
        {
            await _loops.AcceptLoop.RunAsync(() => _loops.AcceptLoop.Unregister(_token)).ConfigureAwait(false);
        }
        // New clients now get ECONNREFUSED/ENOENT; established connections carry on.
        _fd.Dispose();
        RemoveSocketFile();
    }

    private void RemoveSocketFile()
    {
        if (_address is { IsAbstract: false } address && _fileIdentity is { } identity)
        {
            if (SocketFile.DeleteIfOwned(address.Name, identity))
            {
                TransportLog.SocketFileRemoved(_logger, address.Name);
            }
            else
            {
                TransportLog.SocketFileReplaced(_logger, address.Name);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await UnbindAsync().ConfigureAwait(false);
        _releaseLoops();
    }
}
