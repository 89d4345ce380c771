using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Pipes;

namespace Transport.UnixNative.Core.Loop;

/// <summary>Something registered with an <see cref="EventLoop"/>; every call arrives on the loop's thread.</summary>
internal interface IEventHandler
{
    /// <summary>epoll reported <paramref name="events"/> for the handler's descriptor.</summary>
    void OnEvents(uint events);

    /// <summary>The loop is stopping: release the descriptor and fail anything pending.</summary>
    void OnLoopStopping();
}

/// <summary>
/// One epoll thread. It waits for readiness, dispatches events in batches, and runs work
/// scheduled from other threads; it is the <see cref="PipeScheduler"/> that resumes its
/// connections' receives, so their state needs no locks.
/// </summary>
/// <remarks>
/// Descriptors are registered edge-triggered once for their whole life: no re-arm syscall per
/// event. That is safe because every receive, and every wait for writability, happens on this
/// thread, and it always retries until <c>EAGAIN</c> (or a short stream read) before it waits
/// for the next edge. (A send may start on the application's thread; see UnixConnection.Send.)
/// </remarks>
internal sealed unsafe partial class EventLoop : PipeScheduler, IDisposable
{
    private const int MaxEventsPerWait = 256;
    private const int MaxWorkItemsPerIteration = 1024;

    // epoll data for the eventfd; registrations use (generation << 32 | slot), whose generation starts at 1.
    private const ulong WakeToken = 0;

    // _state: whether the loop is (about to be) blocked in epoll_wait and needs the eventfd to wake.
    private const int Awake = 0;
    private const int Blocked = 1;

    private readonly SafeFdHandle _epoll;
    private readonly SafeFdHandle _wakeFd;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<WorkItem> _work = new();
    private readonly Stack<int> _freeSlots = new();
    private IEventHandler?[] _handlers = new IEventHandler?[64];
    private uint[] _generations = new uint[64];
    private int _slotCount;
    private int _state;
    private volatile bool _stopping;

    // Set (with a full fence) once the loop thread has released its handlers and run its last work.
    // After that, scheduled work runs on thread-pool threads, one item at a time under this gate,
    // so loop-only state is never touched by two threads at once.
    private int _stopped;
    private readonly object _afterStopGate = new();

    public EventLoop(int index, UnixNativeTransportOptions options, System.Buffers.MemoryPool<byte> memoryPool)
    {
        Index = index;
        MemoryPool = memoryPool;
        _packetBufferSize = options.SeqpacketReceiveBufferSize;
        DescriptorsPerReceive = options.DescriptorsPerReceive;
        MaxReceivedDescriptors = options.MaxReceivedDescriptors;
        MaxReceivedDescriptorsPerConnection = options.MaxReceivedDescriptorsPerConnection;
        MaxReceivedDescriptorsPerUser = options.EffectiveMaxReceivedDescriptorsPerUser;
        var applicationScheduler = options.UnsafePreferInlineScheduling ? PipeScheduler.Inline : PipeScheduler.ThreadPool;
        var maxRead = options.MaxReadBufferSize ?? 0;
        var maxWrite = options.MaxWriteBufferSize ?? 0;
        var minimumSegment = memoryPool.MaxBufferSize is > 0 and < 4096 ? memoryPool.MaxBufferSize : 4096;

        // Built once per loop, shared by its connections (Kestrel's "per I/O queue" settings). Input:
        // the loop writes, the application reads, paused receives resume on the loop. Output: the
        // application writes, the send pump resumes from the loop's one send work item (see
        // SendScheduler), paused flushes resume on the application's scheduler. A paused writer goes
        // on below half its limit, at the latest when everything was examined.
        var segments = new PipeSegmentPool();
        InputSettings = new PipeSettings(memoryPool, minimumSegment, segments, maxRead, Math.Max(maxRead / 2, 1), applicationScheduler, this);
        OutputSettings = new PipeSettings(memoryPool, minimumSegment, segments, maxWrite, Math.Max(maxWrite / 2, 1), new SendScheduler(this), applicationScheduler);

        _epoll = Epoll.Create();
        if (_epoll.IsInvalid)
        {
            throw NativeError.Exception("epoll_create1", Libc.LastErrno);
        }
        _wakeFd = Epoll.CreateEventFd();
        if (_wakeFd.IsInvalid)
        {
            var errno = Libc.LastErrno;
            _epoll.Dispose();
            throw NativeError.Exception("eventfd", errno);
        }
        // The eventfd stays level-triggered: it is drained by a read whenever it fires.
        if (Epoll.Control(_epoll.Fd, Epoll.EPOLL_CTL_ADD, _wakeFd.Fd, Epoll.EPOLLIN, WakeToken) != 0)
        {
            var errno = Libc.LastErrno;
            _wakeFd.Dispose();
            _epoll.Dispose();
            throw NativeError.Exception("epoll_ctl", errno);
        }
        _thread = new Thread(Run) { IsBackground = true, Name = $"UnixNative I/O {index}" };
    }

    public int Index { get; }

    /// <summary>The transport's logger, which its connections log through (one per factory, shared by its listeners).</summary>
    public Microsoft.Extensions.Logging.ILogger Logger { get; init; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public EventLoopMetrics? Metrics { get; set; }

    /// <summary>On the loop thread, or (after the loop stopped) inside the serialized after-stop work.</summary>
    public bool IsCurrentThread => Thread.CurrentThread == _thread || (IsStopped && Monitor.IsEntered(_afterStopGate));

    public void Start() => _thread.Start();

    /// <summary>Registers <paramref name="fd"/> edge-triggered; loop thread only. Returns the token events carry.</summary>
    public ulong Register(SafeFdHandle fd, IEventHandler handler, uint events)
    {
        System.Diagnostics.Debug.Assert(IsCurrentThread);
        if (IsStopped)
        {
            // Nobody would ever dispatch its events or stop it.
            throw new ObjectDisposedException($"UnixNative I/O {Index}", "The event loop has stopped.");
        }
        int slot;
        if (!_freeSlots.TryPop(out slot))
        {
            slot = _slotCount++;
            if (slot == _handlers.Length)
            {
                Array.Resize(ref _handlers, slot * 2);
                Array.Resize(ref _generations, slot * 2);
            }
        }
        var generation = ++_generations[slot];
        if (generation == 0)
        {
            generation = _generations[slot] = 1;
        }
        var token = ((ulong)generation << 32) | (uint)slot;
        if (Epoll.Control(_epoll.Fd, Epoll.EPOLL_CTL_ADD, fd.Fd, events | Epoll.EPOLLET, token) != 0)
        {
            var errno = Libc.LastErrno;
            _freeSlots.Push(slot);
            throw NativeError.Exception("epoll_ctl", errno);
        }
        _handlers[slot] = handler;
        return token;
    }

    /// <summary>Changes the events of a registration (edge-triggered); 0 or errno.</summary>
    public int Modify(SafeFdHandle fd, uint events, ulong token)
        => Epoll.Control(_epoll.Fd, Epoll.EPOLL_CTL_MOD, fd.Fd, events | Epoll.EPOLLET, token) == 0 ? 0 : Libc.LastErrno;

    /// <summary>Awaiting it continues on the loop thread (at once if already there).</summary>
    public LoopAwaitable SwitchTo() => new(this, queue: false);

    /// <summary>Awaiting it continues on the loop thread after the work already queued there, even from the loop itself.</summary>
    public LoopAwaitable Yield() => new(this, queue: true);

    public bool IsStopped => Volatile.Read(ref _stopped) != 0;

    /// <summary>
    /// Forgets a registration; loop thread only, and always before its descriptor is closed:
    /// events already fetched for it are then dropped, never delivered to a new descriptor that
    /// reuses the number. Closing the descriptor removes it from the epoll set.
    /// </summary>
    public void Unregister(ulong token)
    {
        var slot = (int)(uint)token;
        if (_generations[slot] == (uint)(token >> 32) && _handlers[slot] is not null)
        {
            _handlers[slot] = null;
            _freeSlots.Push(slot);
        }
    }

    public override void Schedule(Action<object?> action, object? state)
    {
        _work.Enqueue(new WorkItem(action, state));
        // Write the eventfd only when the loop is (about to be) blocked; an awake loop
        // drains the queue before it blocks again.
        if (Interlocked.CompareExchange(ref _state, Awake, Blocked) == Blocked)
        {
            Metrics?.WokenUp();
            Wake();
        }
        // The exchange above is a full fence: either the stopped loop's last drain sees our item,
        // or we see that it stopped and drain it ourselves (late completions still run).
        if (IsStopped)
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(static loop => loop.RunWorkAfterStop(), this, preferLocal: false);
        }
    }

    private void RunWorkAfterStop()
    {
        lock (_afterStopGate)
        {
            RunAllScheduledWork();
        }
    }

    /// <summary>Runs <paramref name="action"/> on the loop and returns when it has run.</summary>
    public Task RunAsync(Action action)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Schedule(static s =>
        {
            var (a, tcs) = ((Action, TaskCompletionSource))s!;
            try
            {
                a();
                tcs.TrySetResult();
            }
            catch (Exception ex)
            {
                tcs.TrySetException(ex);
            }
        }, (action, done));
        return done.Task;
    }

    private void Wake()
    {
        ulong one = 1;
        // EAGAIN means the counter is already non-zero: the loop will wake anyway.
        while (Libc.write(_wakeFd.Fd, &one, sizeof(ulong)) < 0 && Libc.LastErrno == Libc.EINTR)
        {
        }
    }

    private void Run()
    {
        var events = NativeMemory.Alloc((nuint)(MaxEventsPerWait * Epoll.EventSize));
        try
        {
            while (!_stopping)
            {
                var timeout = -1;
                // A full fence, then look: work enqueued before we said "blocked" must not wait.
                Interlocked.Exchange(ref _state, Blocked);
                if (!_work.IsEmpty)
                {
                    timeout = 0;
                }
                var count = Epoll.epoll_wait(_epoll.Fd, events, MaxEventsPerWait, timeout);
                Volatile.Write(ref _state, Awake);
                if (count < 0)
                {
                    var errno = Libc.LastErrno;
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }
                    // The loop itself is broken: fail fast and loudly rather than hang every connection.
                    Environment.FailFast($"UnixNative I/O {Index}: epoll_wait failed: {Libc.Describe(errno)}");
                }
                Metrics?.EventsFetched(count);
                for (var i = 0; i < count; i++)
                {
                    Epoll.ReadEvent(events, i, out var ev, out var token);
                    if (token == WakeToken)
                    {
                        DrainWakeFd();
                        continue;
                    }
                    var slot = (int)(uint)token;
                    // A stale token (closed and maybe reused slot) has a different generation.
                    if (slot < _slotCount && _generations[slot] == (uint)(token >> 32) && _handlers[slot] is { } handler)
                    {
                        Dispatch(handler, ev);
                    }
                }
                RunScheduledWork();
            }
        }
        finally
        {
            NativeMemory.Free(events);
            Stop();
        }
    }

    private void Stop()
    {
        lock (_afterStopGate)
        {
            StopHandlers();
            Interlocked.Exchange(ref _stopped, 1);
            // Work scheduled before the flag was visible would otherwise wait forever.
            RunAllScheduledWork();
        }
    }

    private void Dispatch(IEventHandler handler, uint events)
    {
        try
        {
            handler.OnEvents(events);
        }
        catch (Exception ex)
        {
            // One connection's bug must not take the loop down with every other connection.
            UnhandledLoopException?.Invoke(ex);
        }
    }

    private void RunScheduledWork()
    {
        // Bounded so a busy producer cannot starve epoll.
        var budget = MaxWorkItemsPerIteration;
        while (budget-- > 0 && _work.TryDequeue(out var item))
        {
            try
            {
                item.Action(item.State);
            }
            catch (Exception ex)
            {
                UnhandledLoopException?.Invoke(ex);
            }
        }
    }

    private void DrainWakeFd()
    {
        ulong value;
        while (Libc.read(_wakeFd.Fd, &value, sizeof(ulong)) < 0 && Libc.LastErrno == Libc.EINTR)
        {
        }
    }

    private void StopHandlers()
    {
        // Whatever is queued still runs (it may complete pipes), then every live registration is released.
        RunScheduledWork();
        for (var slot = 0; slot < _slotCount; slot++)
        {
            if (_handlers[slot] is { } handler)
            {
                _handlers[slot] = null;
                try
                {
                    handler.OnLoopStopping();
                }
                catch (Exception ex)
                {
                    UnhandledLoopException?.Invoke(ex);
                }
            }
        }
        RunAllScheduledWork();
    }

    private void RunAllScheduledWork()
    {
        while (_work.TryDequeue(out var item))
        {
            try
            {
                item.Action(item.State);
            }
            catch (Exception ex)
            {
                UnhandledLoopException?.Invoke(ex);
            }
        }
    }

    /// <summary>Set by the owner to log exceptions that escaped a handler or a work item.</summary>
    public Action<Exception>? UnhandledLoopException { get; set; }

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }
        _stopping = true;
        Wake();
        if (_thread.IsAlive && !IsCurrentThread)
        {
            _thread.Join();
        }
        else if (!_thread.IsAlive)
        {
            Stop();
        }
        _wakeFd.Dispose();
        _epoll.Dispose();
        ReleasePool();
    }

    private readonly record struct WorkItem(Action<object?> Action, object? State);
}
