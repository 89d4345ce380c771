using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Core.Diagnostics;

using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.Core.Loop;

/// <summary>The transport's I/O threads. Connections are spread round-robin; listeners accept on the first loop.</summary>
internal sealed class EventLoopGroup : IDisposable
{
    private readonly EventLoop[] _loops;
    private int _next = -1;

    public EventLoopGroup(UnixNativeTransportOptions options, IMemoryPoolFactory<byte> memoryPoolFactory, ILogger logger, UnixNativeMetrics? metrics = null)
    {
        var count = options.IOThreadCount;
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), count, $"{nameof(UnixNativeTransportOptions.IOThreadCount)} must be at least 1.");
        }
        _loops = new EventLoop[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                var loop = new EventLoop(i, options, memoryPoolFactory.Create()) { Logger = logger };
                loop.UnhandledLoopException = ex => TransportLog.LoopError(logger, loop.Index, ex);
                loop.Metrics = metrics is null ? null : new EventLoopMetrics(metrics, i);
                _loops[i] = loop;
                loop.Start();
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        TransportLog.LoopsStarted(logger, count);
    }

    public EventLoop AcceptLoop => _loops[0];
    /// <summary>Gives each new connection the sendfile feature (set by the factory when UseSendFile is on), before it starts.</summary>
    public Action<UnixConnection>? AttachSendFile { get; init; }

    public EventLoop Next() => _loops[(int)((uint)Interlocked.Increment(ref _next) % (uint)_loops.Length)];

    public void Dispose()
    {
        foreach (var loop in _loops)
        {
            loop?.Dispose();
        }
    }
}
