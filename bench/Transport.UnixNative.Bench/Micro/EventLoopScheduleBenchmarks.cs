using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Transport.UnixNative.Core.Loop;

namespace Transport.UnixNative.Bench.Micro;

/// <summary>
/// Work handed to another thread: our EventLoop as a <see cref="PipeScheduler"/> (a queue plus an
/// eventfd write only when the loop sleeps) against <see cref="PipeScheduler.ThreadPool"/> (what
/// the Sockets transport resumes application code on). A batch of items is scheduled from the
/// benchmark thread; the operation ends when the last one has run.
/// </summary>
[MemoryDiagnoser]
public class EventLoopScheduleBenchmarks
{
    private static readonly Action<object?> s_work = static state => ((EventLoopScheduleBenchmarks)state!).OneDone();

    private EventLoop _loop = null!;
    private int _remaining;
    private TaskCompletionSource? _done;

    /// <summary>Items per operation: 1 measures a wake-up; 64 shows what batching saves.</summary>
    [Params(1, 64)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _loop = new EventLoop(0, new UnixNativeTransportOptions(), MemoryPool<byte>.Shared);
        _loop.Start();
    }

    [GlobalCleanup]
    public void Cleanup() => _loop.Dispose();

    [Benchmark(Baseline = true, Description = "PipeScheduler.ThreadPool")]
    public Task ThreadPool() => ScheduleBatch(PipeScheduler.ThreadPool);

    [Benchmark(Description = "EventLoop as PipeScheduler")]
    public Task EventLoop() => ScheduleBatch(_loop);

    private Task ScheduleBatch(PipeScheduler scheduler)
    {
        var done = new TaskCompletionSource();
        _done = done;
        Volatile.Write(ref _remaining, Batch);
        for (var i = 0; i < Batch; i++)
        {
            scheduler.Schedule(s_work, this);
        }
        return done.Task;
    }

    private void OneDone()
    {
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _done!.TrySetResult();
        }
    }
}
