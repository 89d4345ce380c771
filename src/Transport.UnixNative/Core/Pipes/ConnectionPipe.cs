using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Sources;

namespace Transport.UnixNative.Core.Pipes;

/// <summary>
/// One direction of a connection, read as a <see cref="PipeReader"/> with a <see cref="Pipe"/>'s
/// semantics (examined positions, cancellation, completion, a writer paused while too much is not yet
/// examined). The input: the loop writes what it received, the application reads (and the bytes it
/// consumed tell descriptor passing which request a descriptor belongs to). The output: the application
/// writes through <see cref="ConnectionOutput"/>, the send pump reads. One object in place of a pipe,
/// its reader, its writer and its segment stack: every idle keep-alive connection carries two. With
/// nothing unread it holds no segment and no pool block.
/// </summary>
/// <remarks>
/// One writer and one reader at a time, on any threads. One lock (the object's monitor: no lock
/// object per connection) guards the state both share; continuations run after it is released, on
/// the reader's or the writer's scheduler (<see cref="PipeSettings"/>).
/// </remarks>
internal sealed class ConnectionPipe : PipeReader, IBufferWriter<byte>, IValueTaskSource<ReadResult>
{
    private const int ReaderCompleted = 1 << 0;
    private const int WriterCompleted = 1 << 1;
    private const int Reading = 1 << 2;        // a result is out: AdvanceTo comes next
    private const int Awaiting = 1 << 3;       // a read waits for data
    private const int CancelPending = 1 << 4;  // CancelPendingRead: the next result is canceled
    private const int TokenCanceled = 1 << 5;  // the waiting read's token fired
    private const int WriterPaused = 1 << 6;   // too much unread: the loop stopped receiving
    private const int WriterReserved = 1 << 7; // the writer holds memory from GetMemory until it publishes
    private const int NewData = 1 << 8;        // published since the reader last examined everything
    private const int EndAfterExamined = 1 << 9; // a graceful end the reader sees once it examined everything
    private const int UnfinishedReadEnds = 1 << 10; // the connection is aborted: a new read ends an unfinished one

    private static readonly Action<object?, CancellationToken> s_cancelRead = static (state, token) => ((ConnectionPipe)state!).CancelRead(token);

    private readonly PipeSettings _settings;
    private readonly IResumableWriter _writer;

    // Segments from the first unconsumed byte (_head at _headIndex) to the last written (_tail).
    // Positions are stream offsets: consumed <= published (visible to the reader) <= written.
    private PipeSegment? _head;
    private int _headIndex;
    private PipeSegment? _tail;
    private PipeSegment? _publishedSegment;
    private int _publishedIndex;
    private long _written;
    private long _published;
    private long _consumed;
    private long _examined;

    private int _state;
    private short _version;
    private Exception? _writerError;
    private Action<object?>? _continuation;
    private object? _continuationState;
    private ExecutionContext? _continuationContext;
    private CancellationToken _readToken;
    private CancellationTokenRegistration _readTokenRegistration;

    /// <param name="settings">The loop's settings for this direction (shared by its connections).</param>
    /// <param name="writer">Told, on the writer's scheduler, when a paused writer may go on.</param>
    public ConnectionPipe(PipeSettings settings, IResumableWriter writer)
    {
        _settings = settings;
        _writer = writer;
    }

    private object Sync => this;

    /// <summary>Bytes the application has consumed (advanced past) so far; any thread.</summary>
    public long Consumed => Volatile.Read(ref _consumed);

    /// <summary>Segments held now (for tests: a connection with nothing unread holds none).</summary>
    internal int SegmentCount
    {
        get
        {
            lock (Sync)
            {
                var count = 0;
                for (var segment = _head; segment is not null; segment = segment.NextSegment)
                {
                    count++;
                }
                return count;
            }
        }
    }

    /// <summary>Bytes written so far, published or not (the writer's thread).</summary>
    public long Written => _written;

    /// <summary>Bytes written and not yet published.</summary>
    public long UnpublishedBytes
    {
        get
        {
            lock (Sync)
            {
                return _written - _published;
            }
        }
    }

    /// <summary>The reader completed its side (nothing it has not read will be).</summary>
    public bool IsReaderCompleted => (Volatile.Read(ref _state) & ReaderCompleted) != 0;

    // ---- The loop's side ----

    /// <summary>Appends <paramref name="data"/>; invisible to the reader until <see cref="Publish"/>.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        lock (Sync)
        {
            while (!data.IsEmpty)
            {
                var tail = TailWithRoom(1);
                var room = tail.Available.Span[tail.Written..];
                var n = Math.Min(room.Length, data.Length);
                data[..n].CopyTo(room);
                tail.Written += n;
                _written += n;
                data = data[n..];
            }
            DropIfReaderCompleted();
        }
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        // Without the lock while the writer holds a reservation: only the writer changes that bit and
        // the tail, and the reader releases nothing of a reserved tail (a body written block by block).
        if ((Volatile.Read(ref _state) & WriterReserved) != 0 && _tail is { } reserved && reserved.Available.Length - reserved.Written >= Math.Max(sizeHint, 1))
        {
            return reserved.Available[reserved.Written..];
        }
        lock (Sync)
        {
            var tail = TailWithRoom(Math.Max(sizeHint, 1));
            _state |= WriterReserved;
            return tail.Available[tail.Written..];
        }
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public void Advance(int count)
    {
        if (count == 0)
        {
            return;
        }
        if ((Volatile.Read(ref _state) & WriterReserved) != 0)
        {
            // The writer's own memory until it publishes (see GetMemory): the reader sees these bytes
            // only through Publish, under the lock. What it reads of _written meanwhile cannot release a reserved tail.
            var reserved = _tail!;
            if ((uint)count > (uint)(reserved.Available.Length - reserved.Written))
            {
                throw new InvalidOperationException("Advance past the memory GetMemory gave.");
            }
            reserved.Written += count;
            _written += count;
            return;
        }
        lock (Sync)
        {
            var tail = _tail;
            if (tail is null || (uint)count > (uint)(tail.Available.Length - tail.Written))
            {
                throw new InvalidOperationException("Advance past the memory GetMemory gave.");
            }
            // The memory stays the writer's until it publishes (a writer may advance in steps).
            tail.Written += count;
            _written += count;
            DropIfReaderCompleted();
        }
    }

    /// <summary>
    /// Makes everything written visible to the reader and wakes it. <see cref="PipeFlush.Paused"/>: the
    /// reader is behind (the loop should stop receiving; the writer's <c>OnWriterResumed</c> runs on its scheduler
    /// once it catches up); <see cref="PipeFlush.ReaderCompleted"/>: nobody reads any more.
    /// </summary>
    public PipeFlush Publish()
    {
        PipeContinuation waiter;
        var flush = PipeFlush.Continue;
        lock (Sync)
        {
            _state &= ~WriterReserved;
            if ((_state & ReaderCompleted) != 0)
            {
                DropIfReaderCompleted();
                return PipeFlush.ReaderCompleted;
            }
            PublishWritten();
            waiter = TakeWaiter();
            // As a pipe, bytes examined (not only consumed) count as read: a reader that looks at
            // everything and waits for more is never stuck behind a paused writer.
            var pause = _settings.PauseThreshold;
            if (pause > 0 && _published - _examined >= pause)
            {
                _state |= WriterPaused;
                flush = PipeFlush.Paused;
            }
        }
        waiter.Dispatch(_settings.ReaderScheduler);
        return flush;
    }

    /// <summary>Ends the input (after what was written): the reader sees the end, or <paramref name="error"/> thrown.</summary>
    public void CompleteWriter(Exception? error = null)
    {
        PipeContinuation waiter;
        lock (Sync)
        {
            if ((_state & WriterCompleted) != 0)
            {
                return;
            }
            _state = (_state | WriterCompleted) & ~(WriterPaused | WriterReserved);
            _writerError = error;
            PublishWritten();
            waiter = TakeWaiter();
            DropIfReaderCompleted();
        }
        waiter.Dispatch(_settings.ReaderScheduler);
    }

    /// <summary>
    /// Ends the input gracefully (the peer's FIN). Unlike <see cref="CompleteWriter"/>, a read reports
    /// <c>IsCompleted</c> only once the reader has examined everything published: a read that still
    /// returns bytes the reader has not looked at is not the last. Kestrel treats a completed read as
    /// the end of a request body even when the rest of the body is in that same read, so a body that
    /// arrived whole with the FIN would otherwise be rejected as truncated.
    /// </summary>
    public void CompleteWriterWhenExamined()
    {
        PipeContinuation waiter;
        lock (Sync)
        {
            if ((_state & WriterCompleted) != 0)
            {
                return;
            }
            _state = (_state | WriterCompleted | EndAfterExamined) & ~(WriterPaused | WriterReserved);
            PublishWritten();
            waiter = TakeWaiter();
            DropIfReaderCompleted();
        }
        waiter.Dispatch(_settings.ReaderScheduler);
    }

    private void PublishWritten()
    {
        if (_written > _published)
        {
            _state |= NewData;
        }
        _published = _written;
        _publishedSegment = _tail;
        _publishedIndex = _tail?.Written ?? 0;
    }

    private PipeSegment TailWithRoom(int size)
    {
        var tail = _tail;
        if (tail is not null && tail.Available.Length - tail.Written >= size)
        {
            return tail;
        }
        // Kestrel's pool serves blocks of one size; a larger request comes from the shared pool.
        var block = size <= _settings.BlockSize ? _settings.Pool.Rent(_settings.BlockSize) : MemoryPool<byte>.Shared.Rent(size);
        var segment = _settings.Segments.Rent();
        segment.Assign(block, _written);
        if (tail is null)
        {
            _head = segment;
            _headIndex = 0;
            _publishedSegment = segment;
            _publishedIndex = 0;
        }
        else
        {
            tail.Link(segment);
        }
        _tail = segment;
        return segment;
    }

    private void DropIfReaderCompleted()
    {
        if ((_state & (ReaderCompleted | WriterReserved)) == ReaderCompleted)
        {
            // Nobody will read these bytes: give the memory back now.
            ReleaseAll();
        }
    }

    // ---- The application's side ----

    public override bool TryRead(out ReadResult result)
    {
        lock (Sync)
        {
            ThrowIfCannotRead();
            // As a pipe's TryRead: also bytes not examined yet, even if a read would wait.
            if (IsReady || _published > _examined)
            {
                result = TakeResult();
                return true;
            }
        }
        result = default;
        return false;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<ReadResult>(cancellationToken);
        }
        short version;
        lock (Sync)
        {
            ThrowIfCannotRead();
            if (IsReady)
            {
                return new ValueTask<ReadResult>(TakeResult());
            }
            _state |= Awaiting;
            version = ++_version;
            _readToken = cancellationToken;
        }
        if (cancellationToken.CanBeCanceled)
        {
            // Registered outside the lock: a token that fires now calls back at once (and takes the lock).
            var registration = cancellationToken.UnsafeRegister(s_cancelRead, this);
            var stale = false;
            lock (Sync)
            {
                if ((_state & Awaiting) != 0 && _version == version)
                {
                    _readTokenRegistration = registration;
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
        return new ValueTask<ReadResult>(this, version);
    }

    /// <summary>
    /// A read for our own reader (the send pump): a result now, or false and <paramref name="continuation"/>
    /// runs on the reader's scheduler when one is there (then <see cref="TryRead"/> returns it). No
    /// delegate or awaiter per connection.
    /// </summary>
    public bool TryReadOrWait(out ReadResult result, Action<object?> continuation, object state)
    {
        lock (Sync)
        {
            ThrowIfCannotRead();
            if (IsReady)
            {
                result = TakeResult();
                return true;
            }
            _state |= Awaiting;
            _version++;
            _continuation = continuation;
            _continuationState = state;
        }
        result = default;
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        bool resume;
        lock (Sync)
        {
            if ((_state & Reading) == 0)
            {
                throw new InvalidOperationException("No reading operation to complete.");
            }
            var consumedAt = PositionOf(consumed);
            var examinedAt = PositionOf(examined);
            if (consumedAt < _consumed || examinedAt < consumedAt || examinedAt > _published)
            {
                throw new InvalidOperationException("The consumed and examined positions must lie within the last read's buffer, consumed first.");
            }
            _state &= ~Reading;
            if (examinedAt == _published && (_state & WriterCompleted) == 0)
            {
                // Everything looked at: the next read waits for more (as a pipe's).
                _state &= ~NewData;
            }
            _examined = examinedAt;
            Volatile.Write(ref _consumed, consumedAt);
            ReleaseConsumed();
            var paused = (_state & WriterPaused) != 0;
            resume = paused && _published - _examined < _settings.ResumeThreshold;
            if (resume)
            {
                _state &= ~WriterPaused;
            }
        }
        if (resume)
        {
            ResumeWriter();
        }
    }

    public override void CancelPendingRead()
    {
        PipeContinuation waiter;
        lock (Sync)
        {
            _state |= CancelPending;
            waiter = TakeWaiter();
        }
        waiter.Dispatch(_settings.ReaderScheduler);
    }

    public override void Complete(Exception? exception = null)
    {
        bool resume;
        lock (Sync)
        {
            if ((_state & ReaderCompleted) != 0)
            {
                return;
            }
            resume = (_state & WriterPaused) != 0;
            _state = (_state | ReaderCompleted) & ~(Reading | WriterPaused);
            DropIfReaderCompleted();
        }
        if (resume)
        {
            // A paused loop learns that nobody reads any more.
            ResumeWriter();
        }
    }

    private void ResumeWriter() => _settings.WriterScheduler.Schedule(static state => ((IResumableWriter)state!).OnWriterResumed(), _writer);

    private void CancelRead(CancellationToken token)
    {
        PipeContinuation waiter;
        lock (Sync)
        {
            if ((_state & Awaiting) == 0 || _readToken != token)
            {
                return;
            }
            _state |= TokenCanceled;
            waiter = TakeWaiter();
        }
        waiter.Dispatch(_settings.ReaderScheduler);
    }

    private bool IsReady => (_state & (NewData | CancelPending | WriterCompleted)) != 0;

    /// <summary>
    /// The connection is being aborted: from now on a read that starts while the last one was never
    /// advanced ends that one first, consuming and examining nothing, instead of throwing "Reading is
    /// already in progress". Kestrel's request-body reader leaves the input so when its own AdvanceTo
    /// throws (PipeReader.CopyToAsync advances to a default position when a write reports the output
    /// completed, which Kestrel's writes do once it aborted), and then reads the input once more.
    /// </summary>
    public void EndUnfinishedReadsOnRead()
    {
        lock (Sync)
        {
            _state |= UnfinishedReadEnds;
        }
    }

    private void ThrowIfCannotRead()
    {
        if ((_state & ReaderCompleted) != 0)
        {
            throw new InvalidOperationException("Reading is not allowed after the reader was completed.");
        }
        if ((_state & (Reading | UnfinishedReadEnds)) == (Reading | UnfinishedReadEnds))
        {
            // As AdvanceTo(the last buffer's start): nothing more consumed or examined.
            _state &= ~Reading;
        }
        if ((_state & (Reading | Awaiting)) != 0)
        {
            throw new InvalidOperationException("Reading is already in progress.");
        }
    }

    /// <summary>The result of a read now (lock held); the read is in progress until AdvanceTo.</summary>
    private ReadResult TakeResult()
    {
        if ((_state & WriterCompleted) != 0 && _writerError is { } error)
        {
            ExceptionDispatchInfo.Throw(error);
        }
        var canceled = (_state & CancelPending) != 0;
        _state = (_state | Reading) & ~CancelPending;
        var buffer = _head is null
            ? default
            : new ReadOnlySequence<byte>(_head, _headIndex, _publishedSegment!, _publishedIndex);
        return new ReadResult(buffer, canceled, IsEnd);
    }

    // The reader may see the end: it came, and (if it waits for that) everything was examined.
    private bool IsEnd => (_state & WriterCompleted) != 0 && ((_state & EndAfterExamined) == 0 || _examined >= _published);

    private long PositionOf(SequencePosition position) => position.GetObject() switch
    {
        PipeSegment segment => segment.RunningIndex + position.GetInteger(),
        null => _consumed, // the start or end of an empty buffer
        _ => throw new InvalidOperationException("The position does not belong to this reader's buffer."),
    };

    /// <summary>Gives back the segments before the consumed position (lock held).</summary>
    private void ReleaseConsumed()
    {
        if (_consumed == _written && (_state & WriterReserved) == 0)
        {
            // Nothing unread: an idle connection keeps no memory.
            ReleaseAll();
            return;
        }
        // The published segment stays: the reader's buffer ends in it.
        while (_head is { } head && head != _publishedSegment && head.End <= _consumed)
        {
            _head = head.NextSegment;
            _settings.Segments.Return(head);
        }
        _headIndex = (int)(_consumed - _head!.RunningIndex);
    }

    private void ReleaseAll()
    {
        var segment = _head;
        _head = _tail = _publishedSegment = null;
        _headIndex = _publishedIndex = 0;
        while (segment is not null)
        {
            var next = segment.NextSegment;
            _settings.Segments.Return(segment);
            segment = next;
        }
        _consumed = _published = _examined = _written;
    }

    /// <summary>The waiting read's continuation, if the read can complete now (lock held).</summary>
    private PipeContinuation TakeWaiter()
    {
        if ((_state & Awaiting) == 0 || !(IsReady || (_state & TokenCanceled) != 0))
        {
            return default;
        }
        _state &= ~Awaiting;
        var waiter = new PipeContinuation(_continuation, _continuationState, _continuationContext);
        _continuation = null;
        _continuationState = null;
        _continuationContext = null;
        return waiter;
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token)
    {
        CancellationTokenRegistration registration;
        lock (Sync)
        {
            if (token != _version || (_state & Awaiting) != 0)
            {
                throw new InvalidOperationException("The read's result was already taken, or is not there yet.");
            }
            _version++;
            registration = _readTokenRegistration;
            _readTokenRegistration = default;
            var readToken = _readToken;
            _readToken = default;
            if ((_state & TokenCanceled) != 0)
            {
                _state &= ~TokenCanceled;
                registration.Unregister();
                throw new OperationCanceledException(readToken);
            }
            try
            {
                return TakeResult();
            }
            finally
            {
                registration.Unregister();
            }
        }
    }

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token)
    {
        lock (Sync)
        {
            if (token != _version)
            {
                throw new InvalidOperationException("The read's result was already taken.");
            }
            if ((_state & Awaiting) != 0)
            {
                return ValueTaskSourceStatus.Pending;
            }
            if ((_state & TokenCanceled) != 0)
            {
                return ValueTaskSourceStatus.Canceled;
            }
            return (_state & WriterCompleted) != 0 && _writerError is not null ? ValueTaskSourceStatus.Faulted : ValueTaskSourceStatus.Succeeded;
        }
    }

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        var context = (flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0 ? ExecutionContext.Capture() : null;
        lock (Sync)
        {
            if (token != _version)
            {
                throw new InvalidOperationException("The read's result was already taken.");
            }
            if ((_state & Awaiting) != 0)
            {
                _continuation = continuation;
                _continuationState = state;
                _continuationContext = context;
                return;
            }
        }
        // Completed between the awaiter's check and now.
        new PipeContinuation(continuation, state, context).Dispatch(_settings.ReaderScheduler);
    }
}

/// <summary>The receiving side of a <see cref="ConnectionPipe"/>.</summary>
internal interface IResumableWriter
{
    /// <summary>A paused writer may go on (the reader caught up or completed). Runs on the writer's scheduler.</summary>
    void OnWriterResumed();
}

/// <summary>What <see cref="ConnectionPipe.Publish"/> tells the loop.</summary>
internal enum PipeFlush
{
    Continue,
    Paused,
    ReaderCompleted,
}
