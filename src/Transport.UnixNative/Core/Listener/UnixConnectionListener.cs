using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Loop;

namespace Transport.UnixNative.Core.Listener;

/// <summary>
/// A listening unix socket: its accept loop (socket setup in UnixConnectionListener.SocketSetup.cs,
/// what each accepted socket becomes in <see cref="ConnectionSetup"/>). Kestrel's accept loop calls <see cref="AcceptAsync"/>, which tries
/// accept4 first and waits for readiness only on EAGAIN: the kernel backlog is the queue, and
/// Kestrel's pace is the backpressure.
/// </summary>
internal sealed partial class UnixConnectionListener : IConnectionListener, IEventHandler
{
    private readonly SafeFdHandle _fd;
    private readonly UnixSocketAddress? _address;
    private readonly SocketFile.FileIdentity? _fileIdentity;
    private readonly EventLoopGroup _loops;
    private readonly Action _releaseLoops;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly bool _isPacket;
    private readonly ListenerSettings _settings;
    private readonly SocketFileLock? _fileLock;
    private readonly AcceptRetryTimer _retryTimer;
    private ulong _token;
    private long _starvedSince;
    private bool _nearLimit;
    private long _starvedRetries;
    private int _readySequence;
    private TaskCompletionSource<bool>? _readyWaiter;
    private bool _unbound;
    private bool _disposed;
    private int _unbindStarted;
    private TaskCompletionSource<bool>? _acceptGate;
    private volatile bool _keepSocketFile;

    private UnixConnectionListener(EndPoint endPoint, SafeFdHandle fd, UnixSocketAddress? address, SocketFile.FileIdentity? fileIdentity,
        SocketFileLock? fileLock, bool isPacket, EventLoopGroup loops, Action releaseLoops, ILogger logger, IPeerAdmission? peerAccess)
    {
        _retryTimer = new AcceptRetryTimer(loops.AcceptLoop);
        _fileLock = fileLock;
        EndPoint = endPoint;
        _fd = fd;
        _address = address;
        _fileIdentity = fileIdentity;
        _isPacket = isPacket;
        _loops = loops;
        _releaseLoops = releaseLoops;
        _logger = logger;
        _settings = new ListenerSettings(endPoint, ConnectionLocalEndPoint(endPoint), isPacket, loops, logger, peerAccess)
        {
            PreserveMessages = address?.PreserveMessages ?? false,
        };
    }

    public EndPoint EndPoint { get; }

    // Kestrel's meter tags network.transport=unix and the path only for a UnixDomainSocketEndPoint
    // (anything else gets its AddressFamily, "Unix"), so a seqpacket connection's local end is one;
    // its remote end stays a UnixSeqpacketEndPoint, which tells the socket type.
    private static EndPoint ConnectionLocalEndPoint(EndPoint listener) => listener is UnixSeqpacketEndPoint seqpacket
        ? new UnixDomainSocketEndPoint(seqpacket.IsAbstract ? "\0" + seqpacket.Address[1..] : seqpacket.Address)
        : listener;

    /// <summary>Set by the factory right after binding, before Kestrel accepts.</summary>
    public ListenerMetrics? Metrics
    {
        get => _settings.Metrics;
        set => _settings.Metrics = value;
    }

    internal bool IsPacket => _isPacket;

    /// <summary>The listening descriptor, for a hand-over to a successor.</summary>
    internal SafeFdHandle Handle => _fd;

    /// <summary>The bound address (also of an inherited socket), or null when unknown.</summary>
    internal UnixSocketAddress? Address => _address;

    /// <summary>systemd's fd name of an activated socket (carried on through hand-overs).</summary>
    internal string? FdName { get; init; }

    /// <summary>The socket file this listener will remove on shutdown, if any.</summary>
    internal SocketFile.FileIdentity? OwnedFile => _keepSocketFile ? null : _fileIdentity;

    /// <summary>A successor serves this socket now: shutdown must leave its file (the same inode) alone.</summary>
    internal void KeepSocketFile() => _keepSocketFile = true;

    /// <summary>The predecessor stopped: its socket file is this listener's to remove now.</summary>
    internal void OwnSocketFile() => _keepSocketFile = false;

    /// <summary>
    /// A socket taken from a predecessor: accepts wait until <see cref="OpenAccepts"/> (this process is
    /// ready to serve), and the file stays the predecessor's until <see cref="OwnSocketFile"/>, so a
    /// successor that fails to start never removes the file the predecessor still serves.
    /// </summary>
    internal void HoldForPredecessor()
    {
        _acceptGate = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _keepSocketFile = true;
        FromPredecessor = true;
    }

    internal void OpenAccepts() => _acceptGate?.TrySetResult(true);

    internal bool FromPredecessor { get; private set; }

    /// <summary>Whether connections take descriptors peers pass (<see cref="UnixNativeTransportOptions.ReceiveDescriptorsOn"/>); set before accepting.</summary>
    internal bool ReceivesDescriptors
    {
        get => _settings.ReceivesDescriptors;
        private set => _settings.ReceivesDescriptors = value;
    }

    private Task RegisterAsync() => _loops.AcceptLoop.RunAsync(() =>
    {
        _token = _loops.AcceptLoop.Register(_fd, this, Epoll.EPOLLIN);
        _retryTimer.Register();
    });

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        if (_acceptGate is { } gate && !await gate.Task.WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
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

            if (_nearLimit)
            {
                // The last connection took one of the last free descriptors: wait for some to come back
                // before accept4 takes the very last (see AcceptRetryTimer for why the runtime needs them).
                _nearLimit = false;
                Metrics?.AcceptError(Libc.EMFILE); // counted like the accept4 failure it prevents
                if (!await WaitForDescriptorsAsync(Libc.EMFILE, cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }
            }

            var connection = TryAccept(out var errno);
            if (connection is not null)
            {
                return connection;
            }
            switch (errno)
            {
                case Libc.EAGAIN:
                    if (_starvedSince != 0)
                    {
                        // The episode ends when the backlog is served: running short again while serving it
                        // (clients that left still take a descriptor each) is the same episode, not a new line.
                        TransportLog.AcceptResumed(_logger, EndPoint.ToString() ?? "", Stopwatch.GetElapsedTime(_starvedSince).TotalSeconds, _starvedRetries);
                        _starvedSince = 0;
                    }
                    break;
                case Libc.EINTR:
                    continue;
                case Libc.ECONNABORTED:
                    Metrics?.RefusedByError(); // the peer gave up before accept4 took it, or setting it up failed
                    continue;
                case Libc.EMFILE:
                case Libc.ENFILE:
                case Libc.ENOBUFS:
                case Libc.ENOMEM:
                    // Out of descriptors (or kernel memory). Clients stay in the kernel backlog, as nginx
                    // keeps them, rather than being accepted and closed with a reserved descriptor as libuv
                    // does: a shortage usually lasts until some connections close, and shedding would turn
                    // it into failed requests for everyone who arrives meanwhile. Nothing is lost silently:
                    // the listener stays open, the backlog is served as soon as accept4 succeeds again, a
                    // client beyond the backlog gets EAGAIN from connect, and the episode is logged.
                    // The retry waits on a timerfd made at bind time, on the event loop that already runs:
                    // Task.Delay could need the runtime's timer thread, which cannot start without a descriptor.
                    Metrics?.AcceptError(errno);
                    if (!await WaitForDescriptorsAsync(errno, cancellationToken).ConfigureAwait(false))
                    {
                        return null;
                    }
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
            // One getrlimit per batch of clients after a wait, off the data path: the limit may have
            // been lowered while the listener was idle.
            _retryTimer.RefreshLimit();
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
        _nearLimit = _retryTimer.IsNearLimit(fd);
        var handle = new SafeFdHandle(fd);
        var connection = ConnectionSetup.Start(handle, sockaddr[..Math.Min(length, SockAddrUn.Size)], _settings, out var outcome);
        // A refused peer: try the next one at once (ECONNABORTED would count it as an error too).
        errno = outcome switch { ConnectionSetup.Outcome.Refused => Libc.EINTR, ConnectionSetup.Outcome.Failed => Libc.ECONNABORTED, _ => 0 };
        return connection;
    }

    /// <summary>
    /// Waits on the event loop until accept4 may run again: the interval has passed and the spare
    /// descriptors could be taken back (so connections never use the last of them). False when the
    /// listener stops meanwhile.
    /// </summary>
    private async Task<bool> WaitForDescriptorsAsync(int errno, CancellationToken cancellationToken)
    {
        _retryTimer.ReleaseReserve(); // first: the process may have no descriptor left at all
        if (_starvedSince == 0)
        {
            _starvedSince = Stopwatch.GetTimestamp();
            _starvedRetries = 0;
            TransportLog.AcceptStarved(_logger, EndPoint.ToString() ?? "", Libc.Describe(errno), (int)AcceptRetryTimer.Interval.TotalMilliseconds);
        }
        do
        {
            _starvedRetries++;
            Task<bool> expired;
            lock (_gate)
            {
                if (_unbound)
                {
                    return false;
                }
                expired = _retryTimer.Arm();
            }
            // Resumes on the accept loop's thread (see AcceptRetryTimer): while starved, retries run there,
            // and Kestrel's accept loop runs there until accept4 next says EAGAIN.
            if (!await (cancellationToken.CanBeCanceled ? expired.WaitAsync(cancellationToken) : expired).ConfigureAwait(false))
            {
                return false;
            }
        }
        while (!_retryTimer.TryFillReserve());
        return true;
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
        _acceptGate?.TrySetResult(false);
        _retryTimer.Cancel();
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
            await _loops.AcceptLoop.RunAsync(() =>
            {
                _loops.AcceptLoop.Unregister(_token);
                _retryTimer.Unregister();
            }).ConfigureAwait(false);
        }
        // New clients now get ECONNREFUSED/ENOENT; established connections carry on.
        _fd.Dispose();
        _retryTimer.Dispose();
        RemoveSocketFile();
        // Last: until the socket file is gone, a starting instance must not treat it as stale.
        _fileLock?.Dispose();
    }

    private void RemoveSocketFile()
    {
        if (_address is { IsAbstract: false } address && OwnedFile is { } identity)
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
