using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Internal;

/// <summary>
/// One accepted unix socket as a Kestrel connection. Every socket call and every state change
/// happens on the owning <see cref="EventLoop"/>'s thread; other threads only schedule work on it.
/// </summary>
internal sealed partial class UnixConnection : ConnectionContext, IEventHandler,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature, IMemoryPoolFeature
{
    private static long s_lastConnectionId;

    private readonly SafeFdHandle _fd;
    private readonly int _fdNumber;
    private readonly EventLoop _loop;
    private readonly ILogger _logger;
    private readonly bool _isPacket;
    private readonly Pipe _input;   // transport writes, application reads
    private readonly Pipe _output;  // application writes, transport reads
    private readonly CancellationTokenSource _connectionClosedTokenSource = new();
    private readonly CancellationToken _connectionClosed;
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly FeatureStore _features = new();
    private readonly UnixMessageFeature? _messages;

    private string? _connectionId;
    private IDictionary<object, object?>? _items;
    private ConnectionAbortedException? _abortReason;
    private ulong _token;

    /// <summary>Set by the listener before <see cref="Start"/>.</summary>
    public Metrics.ListenerMetrics? Metrics;

    // Loop-thread state.
    private bool _socketClosed;

    public UnixConnection(SafeFdHandle fd, EventLoop loop, EndPoint localEndPoint, EndPoint remoteEndPoint, bool isPacket, ILogger logger,
        bool preserveMessages = false)
    {
        _fd = fd;
        _fdNumber = fd.Fd;
        _loop = loop;
        _logger = logger;
        _isPacket = isPacket;
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = remoteEndPoint;

        _connectionClosed = _connectionClosedTokenSource.Token;
        _input = new Pipe(loop.InputOptions);
        _output = new Pipe(loop.OutputOptions);
        Transport = new DuplexPipe(_input.Reader, _output.Writer);
        _onFlushCompleted = OnFlushCompleted;

        _features.Set<IConnectionIdFeature>(this);
        _features.Set<IConnectionTransportFeature>(this);
        _features.Set<IConnectionItemsFeature>(this);
        _features.Set<IConnectionLifetimeFeature>(this);
        _features.Set<IConnectionEndPointFeature>(this);
        _features.Set<IMemoryPoolFeature>(this);
        if (isPacket && preserveMessages)
        {
            _messages = new UnixMessageFeature(Transport, MaxMessageSize(fd));
            _features.Set<IUnixMessageFeature>(_messages);
        }
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

    public override IFeatureCollection Features => _features;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    // Saved at construction: the token stays readable after DisposeAsync disposes its source.
    public override CancellationToken ConnectionClosed
    {
        get => _connectionClosed;
        set => throw new NotSupportedException("The transport owns ConnectionClosed.");
    }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public MemoryPool<byte> MemoryPool => _loop.MemoryPool;

    /// <summary>Registers the socket with its loop and starts sending. Called once, from any thread.</summary>
    public void Start() => _loop.Schedule(static state => ((UnixConnection)state!).StartOnLoop(), this);

    private void StartOnLoop()
    {
        try
        {
            // Output readiness is asked for only after a send would block (see WaitForWritable).
            _token = _loop.Register(_fd, this, Epoll.EPOLLIN | Epoll.EPOLLRDHUP);
        }
        catch (Exception ex)
        {
            TransportLog.ConnectionError(_logger, ConnectionId, ex);
            _receiveEnded = true;
            _input.Writer.Complete(ex);
            CloseSocket(ex);
            return;
        }
        _ = SendLoopAsync();
    }

    public void OnEvents(uint events)
    {
        if (_socketClosed)
        {
            return;
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
        Interop.Socket.shutdown(_fdNumber, Interop.Socket.SHUT_RDWR);
        OnWritable(canSend: false);
        if (_receivePaused)
        {
            _input.Writer.CancelPendingFlush();
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
        // Forget the registration first, then close: the number may be reused at once.
        _fd.Dispose();

        // Complete the pipes after the descriptor is closed, with the reason the application should see.
        Exception? reason = _abortReason ?? sendError;
        _output.Reader.Complete(sendError);
        if (!_receiveEnded)
        {
            _receiveEnded = true;
            _input.Writer.Complete(reason);
        }
        TransportLog.ConnectionClosed(_logger, ConnectionId);
        // ConnectionClosed callbacks run application code: never on the I/O thread.
        ThreadPool.UnsafeQueueUserWorkItem(static connection => connection.FireConnectionClosed(), this, preferLocal: false);
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
        _closed.TrySetResult();
    }

    public override async ValueTask DisposeAsync()
    {
        // The application is done with both directions: the send loop drains what is left and closes.
        Transport.Input.Complete();
        Transport.Output.Complete();
        await _closed.Task.ConfigureAwait(false);
        _connectionClosedTokenSource.Dispose();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
