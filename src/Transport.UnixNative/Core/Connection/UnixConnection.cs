using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Loop;
using Transport.UnixNative.Core.Pipes;

namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// One accepted unix socket as a Kestrel connection. Every socket call and every state change
/// happens on the owning <see cref="EventLoop"/>'s thread; other threads only schedule work on it.
/// </summary>
internal sealed partial class UnixConnection : ConnectionContext, IEventHandler, IDuplexPipe, IResumableWriter,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature, IMemoryPoolFeature
{
    private static long s_lastConnectionId;

    // ConnectionClosed fires once the peer's side ended or the socket closed, whichever is first;
    // DisposeAsync returns once the socket is closed and the send loop has let go of its memory.
    private const int ClosedQueued = 1, ClosedFired = 2, SocketClosed = 4, SendEnded = 8;
    private const int FullyClosed = ClosedFired | SocketClosed | SendEnded;
    // A step that waits for ConnectionClosed to have fired (see RunAfterConnectionClosed).
    private const int InputEndWaits = 16, SendEndWaits = 32;

    private readonly SafeFdHandle _fd;
    private readonly EventLoop _loop;
    private readonly bool _isPacket;
    private readonly ConnectionPipe _input; // transport writes, application reads
    private readonly ConnectionOutput _output; // application writes, transport reads
    private readonly CancellationTokenSource _connectionClosedTokenSource = new();
    // Made only when DisposeAsync has to wait: most connections are fully closed by then.
    private TaskCompletionSource? _closed;
    private readonly UnixMessageFeature? _messages;

    private string? _connectionId;
    private IDictionary<object, object?>? _items;
    private ConnectionAbortedException? _abortReason;
    private ulong _token;
    private int _closeState;

    /// <summary>Set by the listener before <see cref="Start"/>.</summary>
    public ListenerMetrics? Metrics;

    // Loop-thread state (read by the send loop too, hence volatile).
    private volatile bool _socketClosed;

    public UnixConnection(SafeFdHandle fd, EventLoop loop, EndPoint localEndPoint, EndPoint remoteEndPoint, bool isPacket,
        bool preserveMessages = false, bool receiveDescriptors = false)
    {
        _fd = fd;
        _loop = loop;
        _isPacket = isPacket;
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = remoteEndPoint;

        // Kept in the base's own storage: the token stays readable after DisposeAsync disposes its source.
        base.ConnectionClosed = _connectionClosedTokenSource.Token;
        _input = new ConnectionPipe(loop.InputSettings, this);
        _output = new ConnectionOutput(loop.OutputSettings);
        Transport = this;
        if (isPacket)
        {
            var maxMessageSize = MaxMessageSize(fd);
            _packetSendLimit = Math.Min(SeqpacketLimits.SendPacketSize, maxMessageSize);
            if (preserveMessages)
            {
                _messages = new UnixMessageFeature(Transport, maxMessageSize); // answered as a feature from this field
            }
        }
        if (receiveDescriptors)
        {
            // Elsewhere every receive leaves no room for descriptors: the kernel closes what a peer attaches.
            ReceiveDescriptors();
        }
    }

    /// <summary>The socket, for tests that change its options.</summary>
    internal SafeFdHandle Socket => _fd;

    /// <summary>For tests: delivers readiness <paramref name="events"/> on the loop as epoll would (even when nothing is there); completes once handled.</summary>
    internal Task DeliverEventsAsync(uint events)
    {
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _loop.Schedule(static state =>
        {
            var (connection, events, handled) = ((UnixConnection, uint, TaskCompletionSource))state!;
            connection.OnEvents(events);
            handled.SetResult();
        }, (this, events, handled));
        return handled.Task;
    }

    // The kernel refuses a packet larger than the send buffer less its own bookkeeping (32 bytes).
    private static int MaxMessageSize(SafeFdHandle fd)
        => Interop.Socket.GetIntOption(fd.Fd, Interop.Socket.SOL_SOCKET, Interop.Socket.SO_SNDBUF, out var sendBuffer) == 0 && sendBuffer > 64
            ? sendBuffer - 32
            : SeqpacketLimits.SendPacketSize;

    public override string ConnectionId
    {
        get => _connectionId ??= $"UDS{Interlocked.Increment(ref s_lastConnectionId):X8}";
        set => _connectionId = value;
    }

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed
    {
        get => base.ConnectionClosed;
        set => throw new NotSupportedException("The transport owns ConnectionClosed.");
    }

    // LocalEndPoint and RemoteEndPoint: the base's own properties (settable, as Kestrel expects).

    public MemoryPool<byte> MemoryPool => _loop.MemoryPool;

    // The loop's: every connection of a transport logs through its one logger (a field less per connection).
    private ILogger _logger => _loop.Logger;

    /// <summary>Registers the socket with its loop and starts sending. Called once, from any thread.</summary>
    public void Start() => _loop.Schedule(static state => ((UnixConnection)state!).StartOnLoop(), this);

    private void StartOnLoop()
    {
        try
        {
            if (_isPacket)
            {
                EnablePacketCredentials();
            }
            // Output readiness is asked for only after a send would block (see WaitForWritable).
            _token = _loop.Register(_fd, this, Epoll.EPOLLIN | Epoll.EPOLLRDHUP);
        }
        catch (Exception ex)
        {
            TransportLog.ConnectionError(_logger, ConnectionId, ex);
            _receiveEnded = true;
            _input.CompleteWriter(ex);
            CloseSocket(ex);
            _output.Reader.Complete(ex); // no send loop owns it
            MarkClosed(SendEnded);
            return;
        }
        // Registered on a live loop, so its pool is alive: this reference keeps it so until the send loop ends.
        _loop.RetainPool();
        StartSending();
    }

    public void OnEvents(uint events)
    {
        if (_socketClosed)
        {
            return;
        }
        if ((events & (Epoll.EPOLLRDHUP | Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0)
        {
            // This edge carried the end (or an error): from now on every receive reads until the
            // syscall says EOF, EAGAIN or the error, never stopping at a short read.
            _peerEnding = true;
            if ((events & Epoll.EPOLLERR) != 0)
            {
                _peerFailed = true;
                if (_receivePaused && !_receiveEnded && TakePendingError() is var pending and not 0)
                {
                    // A paused receive would read no further before ConnectionClosed lets the application
                    // abort the connection: the reset would go unseen. Take it now.
                    ReceiveFailed(pending);
                }
            }
        }
        // HUP and ERR count as both readable and writable: the syscalls tell what really happened.
        if ((events & (Epoll.EPOLLIN | Epoll.EPOLLRDHUP | Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0)
        {
            Receive();
        }
        if ((events & (Epoll.EPOLLOUT | Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0)
        {
            OnWritable(canSend: true);
        }
        if ((events & (Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0)
        {
            // Both directions are gone (the peer closed, or reset): nobody is left to answer. A handler
            // waiting on RequestAborted learns it now, even if nothing reads the input; signalled after
            // the receive and the send had their say, since the application may abort at once.
            SignalConnectionClosed();
        }
    }

    public void OnLoopStopping()
    {
        _abortReason ??= new ConnectionAbortedException("The transport is shutting down.");
        OnWritable(canSend: false);
        CloseSocket(null);
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Interlocked.CompareExchange(ref _abortReason, abortReason, null);
        // Before Kestrel's own writes start reporting "completed" (it aborts us first): a flush waiting
        // for the socket ends canceled, so copy loops stop with an OperationCanceledException; and a
        // body reader that fails mid-read cannot make Kestrel's next read throw (see the pipe).
        _input.EndUnfinishedReadsOnRead();
        _output.CancelWaitingFlush();
        // Wake the send loop if it waits for application data; the loop does the rest.
        _output.Reader.CancelPendingRead();
        _loop.Schedule(static state => ((UnixConnection)state!).AbortOnLoop(), this);
    }

    private void AbortOnLoop()
    {
        if (_socketClosed)
        {
            return;
        }
        TransportLog.ConnectionAborted(_logger, ConnectionId, _abortReason?.Message);
        // The peer sees the end at once; a send that waits for buffer space fails instead of waiting.
        Interop.Socket.shutdown(_fd.Fd, Interop.Socket.SHUT_RDWR);
        OnWritable(canSend: false);
        if (!_receiveEnded)
        {
            // As Kestrel's Sockets transport: the reader sees the abort, not buffered data and a clean end.
            // A paused receive ends here too (its resumption finds the input ended).
            _receivePaused = false;
            _receiveEnded = true;
            _input.CompleteWriter(_abortReason);
        }
    }

    /// <summary>Closes the socket once both directions are done (or the connection is aborted). Loop thread.</summary>
    private void CloseSocket(Exception? sendError)
    {
        if (_socketClosed)
        {
            return;
        }
        _socketClosed = true;
        Metrics?.ConnectionClosed();
        _loop.Unregister(_token);
        // Forget the registration first, then close: the number may be reused at once. A send in
        // progress on another thread holds a reference, so the descriptor closes when it returns.
        _fd.Dispose();
        ReleaseDescriptors();
        ReturnGrowthPlace();

        // Complete the input after the descriptor is closed, with the reason the application should see.
        // The output's reader belongs to the send loop (it may be inside sendmsg with the pipe's
        // memory right now): wake it, and it completes the reader when it is done.
        Exception? reason = _abortReason ?? sendError;
        CloseSendFile(reason);
        _output.Reader.CancelPendingRead();
        if (!_receiveEnded)
        {
            _receiveEnded = true;
            _input.CompleteWriter(reason);
        }
        TransportLog.ConnectionClosed(_logger, ConnectionId);
        SignalConnectionClosed();
        MarkClosed(SocketClosed);
    }

    /// <summary>Fires ConnectionClosed once. Any thread.</summary>
    private void SignalConnectionClosed()
    {
        if ((Interlocked.Or(ref _closeState, ClosedQueued) & ClosedQueued) == 0)
        {
            // ConnectionClosed callbacks run application code: never on the I/O thread.
            ThreadPool.UnsafeQueueUserWorkItem(static connection => connection.FireConnectionClosed(), this, preferLocal: false);
        }
    }

    private void FireConnectionClosed()
    {
        try
        {
            _connectionClosedTokenSource.Cancel();
        }
        catch (Exception ex)
        {
            TransportLog.ConnectionError(_logger, ConnectionId, ex);
        }
        // Kestrel's callbacks have run (the request is marked aborted): now the steps that waited for it.
        var before = Interlocked.Or(ref _closeState, ClosedFired);
        if ((before & InputEndWaits) != 0)
        {
            EndInputAfterDeparture();
        }
        if ((before & SendEndWaits) != 0)
        {
            EndSendingAfterDeparture();
        }
        MarkClosed(ClosedFired);
    }

    /// <summary>
    /// Runs <paramref name="step"/> (<see cref="InputEndWaits"/> or <see cref="SendEndWaits"/>) once
    /// ConnectionClosed has fired and its callbacks returned: at once if they have, else right after them,
    /// on the thread that fires it. As Kestrel's Sockets transport orders it, the application learns that
    /// its peer is gone (Kestrel marks the request aborted) before its reads fail or its flushes report
    /// the output completed; in the other order Kestrel blames the application (a short response body,
    /// a reset thrown from a body read). Exactly one side runs the step: whichever of the two atomic ORs
    /// comes second sees the other's bit.
    /// </summary>
    private void RunAfterConnectionClosed(int step)
    {
        if ((Interlocked.Or(ref _closeState, step) & ClosedFired) == 0)
        {
            SignalConnectionClosed();
            return;
        }
        if (step == InputEndWaits)
        {
            EndInputAfterDeparture();
        }
        else
        {
            EndSendingAfterDeparture();
        }
    }

    private void MarkClosed(int step)
    {
        if (((Interlocked.Or(ref _closeState, step) | step) & FullyClosed) == FullyClosed)
        {
            Volatile.Read(ref _closed)?.TrySetResult();
        }
    }

    private bool IsFullyClosed => (Volatile.Read(ref _closeState) & FullyClosed) == FullyClosed;

    public override async ValueTask DisposeAsync()
    {
        // The application is done with both directions: the send loop drains what is left and closes.
        Transport.Input.Complete();
        Transport.Output.Complete();
        if (!IsFullyClosed)
        {
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            closed = Interlocked.CompareExchange(ref _closed, closed, null) ?? closed;
            // The last step may have completed between the check and the exchange, seeing no waiter.
            if (!IsFullyClosed)
            {
                await closed.Task.ConfigureAwait(false);
            }
        }
        _connectionClosedTokenSource.Dispose();
    }

    PipeReader IDuplexPipe.Input => _input;

    // Kestrel writes through the send-file writer where the connection offers sendfile.
    PipeWriter IDuplexPipe.Output => _sendFileWriter ?? _output;
}
