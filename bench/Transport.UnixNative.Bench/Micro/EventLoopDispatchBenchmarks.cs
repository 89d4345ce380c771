using System.Buffers;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Transport.UnixNative.Bench.Native;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Loop;

namespace Transport.UnixNative.Bench.Micro;

/// <summary>
/// From "a byte arrives" to "the code waiting for it runs": our EventLoop (epoll, edge-triggered,
/// handler called on the loop thread) against the runtime's SocketAsyncEngine (what Kestrel's
/// Sockets transport uses: epoll thread, then a thread-pool hop to the awaiting continuation).
/// The benchmark thread writes one byte to the peer and waits until the reader has drained it.
/// </summary>
[MemoryDiagnoser]
public class EventLoopDispatchBenchmarks
{
    private EventLoop _loop = null!;
    private NativeSocketPair _loopPair = null!;
    private ReadHandler _handler = null!;

    private System.Net.Sockets.Socket _runtimeSocket = null!;
    private SafeFdHandle _runtimePeer = null!;
    private readonly byte[] _runtimeBuffer = new byte[64];

    [GlobalSetup]
    public void Setup()
    {
        _loop = new EventLoop(0, new UnixNativeTransportOptions(), MemoryPool<byte>.Shared);
        _loop.Start();
        _loopPair = new NativeSocketPair(nonBlocking: true);
        _handler = new ReadHandler(_loopPair.First);
        _loop.RunAsync(() => _loop.Register(_loopPair.First, _handler, Epoll.EPOLLIN | Epoll.EPOLLRDHUP)).GetAwaiter().GetResult();

        var (runtimeFd, peerFd) = BenchNative.SocketPair(Interop.Socket.SOCK_STREAM | Interop.Socket.SOCK_CLOEXEC);
        _runtimeSocket = new System.Net.Sockets.Socket(new SafeSocketHandle(runtimeFd, ownsHandle: true));
        _runtimePeer = new SafeFdHandle(peerFd);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // Disposing the loop tells the handler to stop; it closes nothing it does not own.
        _loop.Dispose();
        _loopPair.Dispose();
        _runtimeSocket.Dispose();
        _runtimePeer.Dispose();
    }

    [Benchmark(Baseline = true, Description = "SocketAsyncEngine: readable -> await continuation")]
    public async Task<int> SocketAsyncEngine()
    {
        // Pending first, so the wake-up really goes through epoll.
        var receive = _runtimeSocket.ReceiveAsync(_runtimeBuffer, SocketFlags.None);
        WriteOneByte(_runtimePeer);
        return await receive.ConfigureAwait(false);
    }

    [Benchmark(Description = "EventLoop: readable -> handler on the loop")]
    public Task EventLoop()
    {
        var done = _handler.Arm();
        WriteOneByte(_loopPair.Second);
        return done;
    }

    private static unsafe void WriteOneByte(SafeFdHandle fd)
    {
        byte one = 1;
        if (Libc.write(fd.Fd, &one, 1) != 1)
        {
            throw new IOException($"write: {Libc.Describe(Libc.LastErrno)}");
        }
    }

    /// <summary>Drains its descriptor until EAGAIN (edge-triggered) and completes the waiting task.</summary>
    private sealed class ReadHandler(SafeFdHandle fd) : IEventHandler
    {
        private readonly byte[] _buffer = new byte[64];
        private TaskCompletionSource? _waiter;

        public Task Arm()
        {
            var waiter = new TaskCompletionSource();
            Volatile.Write(ref _waiter, waiter);
            return waiter.Task;
        }

        public unsafe void OnEvents(uint events)
        {
            var read = 0L;
            fixed (byte* p = _buffer)
            {
                nint n;
                while ((n = Libc.read(fd.Fd, p, (nuint)_buffer.Length)) > 0)
                {
                    read += n;
                }
            }
            if (read > 0)
            {
                Interlocked.Exchange(ref _waiter, null)?.TrySetResult();
            }
        }

        public void OnLoopStopping()
        {
            Interlocked.Exchange(ref _waiter, null)?.TrySetCanceled();
        }
    }
}
