using System.IO.Pipelines;
using System.Threading.Tasks.Sources;

namespace Transport.UnixNative.Core.Pipes;

/// <summary>
/// The connection's output as Kestrel sees it: a <see cref="PipeWriter"/> over a <see cref="ConnectionPipe"/>
/// whose reader is the send pump. A flush publishes what was written and wakes the pump; it waits only
/// while the bytes the pump has not yet examined reach <c>MaxWriteBufferSize</c>, as a pipe's flush does.
/// </summary>
internal sealed class ConnectionOutput : PipeWriter, IValueTaskSource<FlushResult>, IResumableWriter
{
    private const int Waiting = 1;          // a flush waits for the pump
    private const int CancelPending = 2;    // CancelPendingFlush before a flush: the next one is canceled
    private const int ResultCanceled = 4;   // the waiting flush was canceled
    private const int TokenCanceled = 8;    // the waiting flush's token fired

    private static readonly Action<object?, CancellationToken> s_cancelFlush = static (state, token) => ((ConnectionOutput)state!).CancelFlush(token);

    private readonly PipeSettings _settings;
    private int _state;
    private short _version;
    private Action<object?>? _continuation;
    private object? _continuationState;
    private ExecutionContext? _continuationContext;
    private CancellationToken _flushToken;
    private CancellationTokenRegistration _flushTokenRegistration;

    public ConnectionOutput(PipeSettings settings)
    {
        _settings = settings;
        Reader = new ConnectionPipe(settings, this);
    }

    /// <summary>The send pump's side.</summary>
    public ConnectionPipe Reader { get; }

    private object Sync => this;

    public override Memory<byte> GetMemory(int sizeHint = 0) => Reader.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => Reader.GetSpan(sizeHint);

    public override void Advance(int bytes) => Reader.Advance(bytes);

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => Reader.UnpublishedBytes;

    public override void Complete(Exception? exception = null) => Reader.CompleteWriter(exception);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<FlushResult>(cancellationToken);
        }
        lock (Sync)
        {
            if ((_state & Waiting) != 0)
            {
                throw new InvalidOperationException("A flush is already waiting: flushes must not overlap.");
            }
            // Set first: the pump may catch up (and resume us) the moment the pipe pauses.
            _state |= Waiting;
        }
        var published = Reader.Publish();
        short version;
        lock (Sync)
        {
            var canceled = (_state & CancelPending) != 0;
            if (published != PipeFlush.Paused || canceled || (_state & Waiting) == 0)
            {
                _state &= ~(Waiting | CancelPending);
                return new ValueTask<FlushResult>(new FlushResult(canceled, published == PipeFlush.ReaderCompleted || Reader.IsReaderCompleted));
            }
            version = ++_version;
            _flushToken = cancellationToken;
        }
        if (cancellationToken.CanBeCanceled)
        {
            // Outside the lock: a token that fires now calls back at once (and takes the lock).
            var registration = cancellationToken.UnsafeRegister(s_cancelFlush, this);
            var stale = false;
            lock (Sync)
            {
                if ((_state & Waiting) != 0 && _version == version)
                {
                    _flushTokenRegistration = registration;
                }
                else
                {
                    stale = true;
                }
            }
            if (stale)
            {
                registration.Unregister();
            }
        }
        return new ValueTask<FlushResult>(this, version);
    }

    public override void CancelPendingFlush()
    {
        PipeContinuation waiter;
        lock (Sync)
        {
            if ((_state & Waiting) == 0)
            {
                _state |= CancelPending;
                return;
            }
            _state |= ResultCanceled;
            waiter = TakeWaiter();
        }
        waiter.Dispatch(_settings.WriterScheduler);
    }

    /// <summary>Cancels the flush that waits now, if one does (unlike <see cref="CancelPendingFlush"/>, never a later one).</summary>
    public void CancelWaitingFlush()
    {
        PipeContinuation waiter;
        lock (Sync)
        {
            if ((_state & Waiting) == 0)
            {
                return;
            }
            _state |= ResultCanceled;
            waiter = TakeWaiter();
        }
        waiter.Dispatch(_settings.WriterScheduler);
    }

    /// <summary>The pump caught up (or completed): runs on the writer's scheduler.</summary>
    void IResumableWriter.OnWriterResumed()
    {
        PipeContinuation waiter;
        lock (Sync)
        {
            if ((_state & Waiting) == 0)
            {
                return; // that flush returned already (canceled, or it saw the pump catch up)
            }
            waiter = TakeWaiter();
        }
        // Already on the writer's scheduler: go on here.
        waiter.Run();
    }

    private void CancelFlush(CancellationToken token)
    {
        PipeContinuation waiter;
        lock (Sync)
        {
            if ((_state & Waiting) == 0 || _flushToken != token)
            {
                return;
            }
            _state |= TokenCanceled;
            waiter = TakeWaiter();
        }
        waiter.Dispatch(_settings.WriterScheduler);
    }

    private PipeContinuation TakeWaiter()
    {
        _state &= ~Waiting;
        var waiter = new PipeContinuation(_continuation, _continuationState, _continuationContext);
        _continuation = null;
        _continuationState = null;
        _continuationContext = null;
        return waiter;
    }

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token)
    {
        CancellationTokenRegistration registration;
        bool canceled;
        CancellationToken flushToken;
        bool tokenCanceled;
        lock (Sync)
        {
            if (token != _version || (_state & Waiting) != 0)
            {
                throw new InvalidOperationException("The flush's result was already taken, or is not there yet.");
            }
            _version++;
            registration = _flushTokenRegistration;
            _flushTokenRegistration = default;
            flushToken = _flushToken;
            _flushToken = default;
            canceled = (_state & ResultCanceled) != 0;
            tokenCanceled = (_state & TokenCanceled) != 0;
            _state &= ~(ResultCanceled | TokenCanceled);
        }
        registration.Unregister();
        if (tokenCanceled)
        {
            throw new OperationCanceledException(flushToken);
        }
        return new FlushResult(canceled, Reader.IsReaderCompleted);
    }

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token)
    {
        lock (Sync)
        {
            if (token != _version)
            {
                throw new InvalidOperationException("The flush's result was already taken.");
            }
            return (_state & Waiting) != 0 ? ValueTaskSourceStatus.Pending
                : (_state & TokenCanceled) != 0 ? ValueTaskSourceStatus.Canceled
                : ValueTaskSourceStatus.Succeeded;
        }
    }

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        var context = (flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0 ? ExecutionContext.Capture() : null;
        lock (Sync)
        {
            if (token != _version)
            {
                throw new InvalidOperationException("The flush's result was already taken.");
            }
            if ((_state & Waiting) != 0)
            {
                _continuation = continuation;
                _continuationState = state;
                _continuationContext = context;
                return;
            }
        }
        // Completed between the awaiter's check and now.
        new PipeContinuation(continuation, state, context).Dispatch(_settings.WriterScheduler);
    }
}
