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

    // What a stream connection's send buffer grows to the first time it fills (setsockopt value; the
    // kernel doubles it). The default (net.core.wmem_default, ~208 KiB) holds three of Kestrel's 64 KiB
    // flushes: a large body then waits for writability every few chunks, and on one core each wait is a
    // context switch and a loop wake-up. Measured per core (docs/benchmarks.md, round 3): 1 MiB GET
    // 1.29× the rate at 0.77× the CPU (1 MiB measured the same as 512 KiB); 1.11× on two shared cores.
    // A peer that stops reading can hold twice this in kernel memory (charged to the server), on top
    // of MaxWriteBufferSize; connections that only send small responses never grow it, and at most
    // SendBufferGrowth.Process's 256 connections hold a grown one at once. The kernel caps
    // the request at net.core.wmem_max (208 KiB on a stock kernel: the buffer then only doubles), so an
    // administrator's limit still holds.
    internal const int GrownSendBuffer = 512 * 1024;

    private bool _sendBufferGrown;

    // 1 while this connection holds one of SendBufferGrowth.Process's places; 2 once its close gave it back.
    private int _growthPlace;

    /// <summary>
    /// At the first full send buffer of a stream, raises SO_SNDBUF to <see cref="GrownSendBuffer"/> (never
    /// lowers it) while the process has a place for it (<see cref="SendBufferGrowth"/>). True when it grew, so
    /// the caller sends again at once: no writable edge comes for it.
    /// </summary>
    private bool TryGrowSendBuffer()
    {
        if (_sendBufferGrown || _isPacket)
        {
            return false;
        }
        _sendBufferGrown = true;
        if (!SendBufferGrowth.Process.TryTake())
        {
            return false;
        }
        // getsockopt reports the doubled value the kernel keeps.
        var grown = Interop.Socket.GetIntOption(_fd.Fd, Interop.Socket.SOL_SOCKET, Interop.Socket.SO_SNDBUF, out var current) == 0
            && current < 2 * GrownSendBuffer
            && Interop.Socket.SetIntOption(_fd.Fd, Interop.Socket.SOL_SOCKET, Interop.Socket.SO_SNDBUF, GrownSendBuffer) == 0;
        // A send racing the close (it holds a reference to the descriptor) must not keep a place the close already settled.
        if (!grown || Interlocked.CompareExchange(ref _growthPlace, 1, 0) != 0)
        {
            SendBufferGrowth.Process.Return();
        }
        return grown;
    }

    /// <summary>The socket is closed: its grown buffer, if any, no longer counts. Once.</summary>
    private void ReturnGrowthPlace()
    {
        if (Interlocked.Exchange(ref _growthPlace, 2) == 1)
        {
            SendBufferGrowth.Process.Return();
        }
    }

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
