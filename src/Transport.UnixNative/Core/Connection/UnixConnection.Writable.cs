using System.Threading.Tasks.Sources;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Core.Connection;

// The wait for a full socket to drain: EPOLLOUT asked for once, a reusable signal the loop sets.
internal sealed partial class UnixConnection
{
    // Made at the first send that would block: most connections never wait.
    private WritableSignal? _writable;
    private bool _waitingForWritable;
    private bool _outputEventsRegistered;

    private ValueTask<bool> WaitForWritable()
    {
        if (!_outputEventsRegistered)
        {
            // Edge-triggered output readiness, asked for once: it is only needed after a send would block.
            _outputEventsRegistered = true;
            if (_loop.Modify(_fd, Epoll.EPOLLIN | Epoll.EPOLLRDHUP | Epoll.EPOLLOUT, _token) != 0)
            {
                return ValueTask.FromResult(false);
            }
        }
        var writable = _writable ??= new WritableSignal();
        _waitingForWritable = true;
        Metrics?.SendWaitingForWritable();
        return writable.Wait();
    }

    private void OnWritable(bool canSend)
    {
        if (_waitingForWritable)
        {
            _waitingForWritable = false;
            _writable!.Set(canSend);
        }
    }

    /// <summary>The send loop's wait for output readiness: true when it may send again, false when the connection is ending.</summary>
    private sealed class WritableSignal : IValueTaskSource<bool>
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };

        public ValueTask<bool> Wait()
        {
            _core.Reset();
            return new ValueTask<bool>(this, _core.Version);
        }

        public void Set(bool canSend) => _core.SetResult(canSend);

        bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags & ~ValueTaskSourceOnCompletedFlags.FlowExecutionContext);
    }
}
