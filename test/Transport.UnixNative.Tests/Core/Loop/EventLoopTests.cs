using System.Buffers;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Core.Loop;

namespace Transport.UnixNative.Tests.Core.Loop;

/// <summary>An event loop's life after it stopped, and its descriptors' and pool's lifetimes.</summary>
public sealed class EventLoopTests
{
    [Fact]
    public async Task AfterStop_LateWorkRunsOneAtATime_AsIfOnTheLoop()
    {
        using var pool = new TrackingPool();
        var loop = new EventLoop(0, new UnixNativeTransportOptions(), pool);
        loop.Start();
        loop.Dispose();
        Assert.True(loop.IsStopped);

        const int items = 400;
        var running = 0;
        var overlaps = 0;
        var offLoop = 0;
        var ran = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Scheduled from many threads at once, as late completions after shutdown are.
        Parallel.For(0, items, _ => loop.Schedule(_ =>
        {
            if (Interlocked.Increment(ref running) != 1)
            {
                Interlocked.Increment(ref overlaps);
            }
            if (!loop.IsCurrentThread)
            {
                Interlocked.Increment(ref offLoop);
            }
            Thread.SpinWait(2000);
            Interlocked.Decrement(ref running);
            if (Interlocked.Increment(ref ran) == items)
            {
                done.TrySetResult();
            }
        }, null));
        await done.Task.DefaultTimeout();
        Assert.Equal(0, overlaps);
        // Loop-only code (registrations, receive state) may run in them: they count as the loop.
        Assert.Equal(0, offLoop);
    }

    [Fact]
    public async Task AfterStop_RegisterRefuses_UnregisterAndRunAsyncStillWork()
    {
        using var pool = new TrackingPool();
        var loop = new EventLoop(0, new UnixNativeTransportOptions(), pool);
        loop.Start();
        using var fd = Interop.Socket.Create(Interop.Socket.AF_UNIX, Interop.Socket.SOCK_STREAM);
        ulong token = 0;
        await loop.RunAsync(() => token = loop.Register(fd, new NoHandler(), Epoll.EPOLLIN)).DefaultTimeout();
        loop.Dispose();
        await loop.RunAsync(() => loop.Unregister(token)).DefaultTimeout();
        var error = await Assert.ThrowsAsync<ObjectDisposedException>(() => loop.RunAsync(() => loop.Register(fd, new NoHandler(), Epoll.EPOLLIN)).DefaultTimeout());
        Assert.Contains("stopped", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pool_DisposedOnlyAfterTheLastSendLoopLetGo()
    {
        var pool = new TrackingPool();
        var loop = new EventLoop(0, new UnixNativeTransportOptions(), pool);
        loop.Start();
        Assert.True(loop.RetainPool()); // a send loop, still inside a sendmsg while the loop stops
        loop.Dispose();
        Assert.False(pool.Disposed);
        loop.ReleasePool();
        Assert.True(pool.Disposed);
        Assert.False(loop.RetainPool());
    }

    [Fact]
    public void SafeFdHandle_AfterDispose_NumberIsGone()
    {
        var fd = Interop.Socket.Create(Interop.Socket.AF_UNIX, Interop.Socket.SOCK_STREAM);
        Assert.True(fd.Fd >= 0);
        fd.Dispose();
        // A number reused by the next open must never be reached through the old handle.
        Assert.Equal(-1, fd.Fd);
    }

    private sealed class NoHandler : IEventHandler
    {
        public void OnEvents(uint events)
        {
        }

        public void OnLoopStopping()
        {
        }
    }

    internal sealed class TrackingPool : MemoryPool<byte>
    {
        public bool Disposed { get; private set; }

        public override int MaxBufferSize => 4096;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => Shared.Rent(minBufferSize < 0 ? 4096 : minBufferSize);

        protected override void Dispose(bool disposing) => Disposed = true;
    }
}
