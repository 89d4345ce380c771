using Transport.UnixNative.Core.Pipes;

namespace Transport.UnixNative.Core.Loop;

// The memory the loop's connections share: the pool with its reference count (it must outlive
// every send that may still read a block) and the pipe settings built on it in the constructor.
internal sealed partial class EventLoop
{
    // The loop's own reference plus one per running send loop: the pool is disposed when the last
    // send loop has stopped touching its memory, never while a sendmsg may still read a block.
    private int _poolUsers = 1;

    public System.Buffers.MemoryPool<byte> MemoryPool { get; }

    /// <summary>How connections' input buffers: the loop writes, the application reads.</summary>
    public PipeSettings InputSettings { get; }

    /// <summary>How connections' output buffers: the application writes, the send pump reads.</summary>
    public PipeSettings OutputSettings { get; }

    /// <summary>A send loop starts using the pool; false once the pool is gone.</summary>
    public bool RetainPool()
    {
        var users = Volatile.Read(ref _poolUsers);
        while (users > 0)
        {
            var seen = Interlocked.CompareExchange(ref _poolUsers, users + 1, users);
            if (seen == users)
            {
                return true;
            }
            users = seen;
        }
        return false;
    }

    /// <summary>A send loop (or the loop itself, at dispose) is done with the pool; the last one disposes it.</summary>
    public void ReleasePool()
    {
        if (Interlocked.Decrement(ref _poolUsers) == 0)
        {
            MemoryPool.Dispose();
        }
    }
}
