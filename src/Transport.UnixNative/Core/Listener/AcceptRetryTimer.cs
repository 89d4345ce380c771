using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Loop;

namespace Transport.UnixNative.Core.Listener;

/// <summary>
/// When to try accept4 again after it ran out of descriptors: a timerfd made with the listener and
/// registered on the accept loop, so waiting needs no new descriptor, thread or runtime timer.
/// It also holds a few spare descriptors that accept4 can never take: they are given back while
/// starved, because the runtime aborts the whole process ("Out of memory.") when a thread it
/// starts, for its thread pool for instance, finds no descriptor, and taken again before accept4 runs.
/// </summary>
internal sealed class AcceptRetryTimer : IEventHandler, IDisposable
{
    /// <summary>Short enough to resume promptly when descriptors come back; one accept4 per tick costs nothing.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>Spare descriptors: a new thread needs a few (a pipe, /proc reads); some to spare for the application.</summary>
    private const int ReserveSize = 16;

    /// <summary>
    /// Descriptors that must stay free beyond the reserve: accept4 stops when a connection leaves fewer than
    /// <see cref="Headroom"/>, and resumes as soon as one more would leave that many. Resuming asks no more than
    /// accepting does: the process's own use grows after it started (the runtime opens each assembly it loads,
    /// twice: serving the sample's first request takes 8), so a higher bar can stay out of reach with
    /// descriptors free and the listener idle for good. Small: the reserve is the runtime's headroom, this
    /// only covers the moment before it is given back. A listener starts only with <see cref="StartHeadroom"/>.
    /// </summary>
    private const int Headroom = 4, StartHeadroom = 8;

    private readonly EventLoop _loop;
    private readonly SafeFdHandle _fd;
    private readonly SafeFdHandle?[] _reserve = new SafeFdHandle?[ReserveSize];
    private int _openFilesLimit = int.MaxValue;
    private readonly Lock _gate = new();
    private TaskCompletionSource<bool>? _waiter;
    private ulong _token;
    private bool _short; // the reserve is given back: counted in HeldDescriptors, which then receives none

    public AcceptRetryTimer(EventLoop loop)
    {
        _loop = loop;
        _fd = TimerFd.Create();
        if (_fd.IsInvalid)
        {
            throw NativeError.Exception("timerfd_create", Libc.LastErrno);
        }
        _openFilesLimit = ResourceLimit.OpenFilesLimit();
        var errno = !FillReserve() ? Libc.LastErrno : HasFree(StartHeadroom) ? 0 : Libc.EMFILE; // the probes' close may reset errno
        if (errno != 0)
        {
            Dispose();
            throw NativeError.Exception($"Too few descriptors free under RLIMIT_NOFILE ({_openFilesLimit}) for a listener's {ReserveSize + StartHeadroom} spare ones: fcntl(F_DUPFD_CLOEXEC)", errno);
        }
    }

    /// <summary>Gives the spare descriptors back to the process (out of descriptors: the runtime needs them more).</summary>
    public void ReleaseReserve() => ReleaseReserve(isShort: true);

    private void ReleaseReserve(bool isShort)
    {
        lock (_gate)
        {
            SetShort(isShort);
            for (var i = 0; i < _reserve.Length; i++)
            {
                _reserve[i]?.Dispose();
                _reserve[i] = null;
            }
        }
    }

    /// <summary>
    /// Whether an accepted descriptor numbered <paramref name="fd"/> leaves fewer than <see cref="Headroom"/> free: numbers
    /// are handed out lowest first, so every number below it is taken and at most <c>limit - 1 - fd</c> remain.
    /// </summary>
    public bool IsNearLimit(int fd) => fd >= _openFilesLimit - Headroom;

    /// <summary>
    /// Reads RLIMIT_NOFILE again: it can be lowered from outside while the process runs (prlimit), and
    /// <see cref="IsNearLimit"/> against a stale limit would let accept4 take the very last descriptor.
    /// </summary>
    public void RefreshLimit() => _openFilesLimit = ResourceLimit.OpenFilesLimit();

    /// <summary>
    /// Takes the spare descriptors again if they and <see cref="Headroom"/> + 1 more are free (the next connection
    /// then leaves <see cref="Headroom"/>); false if not yet, and then it holds none, so the runtime keeps its headroom.
    /// </summary>
    public bool TryFillReserve()
    {
        RefreshLimit(); // it may have been raised meanwhile
        // Count first, then take: taking descriptors until one fails, or probing the headroom by taking it,
        // leaves the runtime none at all for that instant, and a thread starting then aborts the process.
        var free = FreeDescriptors();
        var ready = free >= 0
            ? free >= MissingFromReserve() + Headroom + 1 && FillReserve()
            : FillReserve() && HasFree(Headroom + 1);
        if (!ready)
        {
            ReleaseReserve();
        }
        return ready;
    }

    private int MissingFromReserve()
    {
        lock (_gate)
        {
            return _reserve.Count(spare => spare is null);
        }
    }

    /// <summary>
    /// Unused descriptor numbers below the limit; 0 when no descriptor is left to count with, -1 when
    /// /proc/self/fd cannot be read (not mounted).
    /// </summary>
    private int FreeDescriptors()
    {
        // readdir without a stat per entry: a managed directory enumeration stats every link and cost
        // 0.05 of a core at 10 retries a second with 500 descriptors open.
        var open = DirectoryEntries.CountOpenDescriptors();
        return open >= 0 ? _openFilesLimit - open : Libc.LastErrno is Libc.EMFILE or Libc.ENFILE ? 0 : -1;
    }

    private bool FillReserve()
    {
        lock (_gate)
        {
            for (var i = 0; i < _reserve.Length; i++)
            {
                if (_reserve[i] is not null)
                {
                    continue;
                }
                var spare = new SafeFdHandle(Libc.fcntl(_fd, Libc.F_DUPFD_CLOEXEC, 0));
                if (spare.IsInvalid)
                {
                    return false;
                }
                _reserve[i] = spare;
            }
            SetShort(false);
            return true;
        }
    }

    /// <summary>Whether <paramref name="count"/> more descriptors are free: counted, or where /proc/self/fd cannot be read, taken and given back.</summary>
    private bool HasFree(int count)
    {
        if (FreeDescriptors() is var free && free >= 0)
        {
            return free >= count;
        }
        // The lowest free number alone does not say how many are free above it.
        var probes = new SafeFdHandle[count];
        var taken = 0;
        try
        {
            while (taken < probes.Length)
            {
                var probe = new SafeFdHandle(Libc.fcntl(_fd, Libc.F_DUPFD_CLOEXEC, 0));
                if (probe.IsInvalid)
                {
                    return false;
                }
                probes[taken++] = probe;
            }
            return true;
        }
        finally
        {
            foreach (var probe in probes.AsSpan(0, taken))
            {
                probe.Dispose();
            }
        }
    }

    /// <summary>Loop thread only.</summary>
    public void Register() => _token = _loop.Register(_fd, this, Epoll.EPOLLIN);

    /// <summary>Loop thread only.</summary>
    public void Unregister() => _loop.Unregister(_token);

    /// <summary>Starts the interval; the task completes true when it has passed, false if cancelled.</summary>
    public Task<bool> Arm()
    {
        TaskCompletionSource<bool> waiter;
        lock (_gate)
        {
            // Continuations run inline on the loop thread that completes it: a thread-pool work item could
            // make the pool start a thread, and the runtime aborts the process when a thread cannot get its descriptors.
            waiter = _waiter ??= new TaskCompletionSource<bool>();
        }
        if (TimerFd.ArmOnce(_fd, Interval) is var errno && errno != 0)
        {
            Complete(false);
            throw NativeError.Exception("timerfd_settime", errno);
        }
        return waiter.Task;
    }

    /// <summary>Ends a pending wait with false; from any thread, which then runs the continuation.</summary>
    public void Cancel() => Complete(false);

    public void OnEvents(uint events)
    {
        // Edge-triggered: read the expiry count so the next expiry makes a new edge.
        TimerFd.Drain(_fd);
        Complete(true);
    }

    public void OnLoopStopping() => Complete(false);

    private void Complete(bool expired)
    {
        TaskCompletionSource<bool>? waiter;
        lock (_gate)
        {
            waiter = _waiter;
            _waiter = null;
        }
        waiter?.TrySetResult(expired);
    }

    // Received descriptors must not take the slots given back to the runtime.
    private void SetShort(bool isShort)
    {
        if (_short != isShort)
        {
            _short = isShort;
            HeldDescriptors.SetProcessShort(isShort);
        }
    }

    public void Dispose()
    {
        Complete(false);
        ReleaseReserve(isShort: false);
        _fd.Dispose();
    }
}
