using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Internal;

/// <summary>
/// When to try accept4 again after it ran out of descriptors: a timerfd made with the listener and
/// registered on the accept loop, so waiting needs no new descriptor, thread or runtime timer.
/// </summary>
internal sealed class AcceptRetryTimer : IEventHandler, IDisposable
{
    /// <summary>Short enough to resume promptly when descriptors come back; one accept4 per tick costs nothing.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private readonly EventLoop _loop;
    private readonly SafeFdHandle _fd;
    private readonly Lock _gate = new();
    private TaskCompletionSource<bool>? _waiter;
    private ulong _token;

    public AcceptRetryTimer(EventLoop loop)
    {
        _loop = loop;
        _fd = TimerFd.Create();
        if (_fd.IsInvalid)
        {
            throw NativeError.Exception("timerfd_create", Libc.LastErrno);
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
            waiter = _waiter ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        if (TimerFd.ArmOnce(_fd, Interval) is var errno && errno != 0)
        {
            Complete(false);
            throw NativeError.Exception("timerfd_settime", errno);
        }
        return waiter.Task;
    }

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

    public void Dispose()
    {
        Complete(false);
        _fd.Dispose();
    }
}
