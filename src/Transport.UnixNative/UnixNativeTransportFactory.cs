using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Transport.UnixNative.Metrics;
using System.Diagnostics.Metrics;
using Transport.UnixNative.Internal;

namespace Transport.UnixNative;

/// <summary>
/// Binds unix socket endpoints (paths, <c>@abstract</c> names, stream and seqpacket) on native
/// epoll threads. It claims nothing else: TCP endpoints stay on Kestrel's Sockets transport.
/// </summary>
public sealed class UnixNativeTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly IOptions<UnixNativeTransportOptions> _optionsAccessor;
    private readonly IMemoryPoolFactory<byte> _memoryPoolFactory;
    private readonly ILogger _logger;
    private readonly UnixNativeMetrics _metrics;
    private readonly object _gate = new();
    private EventLoopGroup? _loops;
    private int _listeners;

    /// <summary>Creates the factory; Kestrel resolves it from dependency injection.</summary>
    public UnixNativeTransportFactory(IOptions<UnixNativeTransportOptions> options, ILoggerFactory loggerFactory, IMemoryPoolFactory<byte> memoryPoolFactory)
        : this(options, loggerFactory, memoryPoolFactory, meterFactory: null)
    {
    }

    /// <summary>
    /// Creates the factory with the host's meter factory, which owns the <c>Transport.UnixNative</c>
    /// meter; Kestrel resolves it from dependency injection.
    /// </summary>
    public UnixNativeTransportFactory(IOptions<UnixNativeTransportOptions> options, ILoggerFactory loggerFactory, IMemoryPoolFactory<byte> memoryPoolFactory,
        IMeterFactory? meterFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(memoryPoolFactory);
        _optionsAccessor = options;
        _memoryPoolFactory = memoryPoolFactory;
        _logger = loggerFactory.CreateLogger(TransportLog.CategoryName);
        _metrics = new UnixNativeMetrics(meterFactory);
    }

    // Read when binding, not when Kestrel is constructed: a bad setting then fails the host's start
    // with ValidateOnStart's message instead of WebApplicationBuilder.Build().
    private UnixNativeTransportOptions CurrentOptions => _optionsAccessor.Value;

    /// <summary>Whether <paramref name="endpoint"/> is a unix socket this transport serves.</summary>
    public bool CanBind(EndPoint endpoint) => endpoint switch
    {
        System.Net.Sockets.UnixDomainSocketEndPoint or UnixSeqpacketEndPoint => true,
        FileHandleEndPoint handle => InheritedSocket.IsUnix(handle, out _),
        _ => false,
    };

    /// <inheritdoc/>
    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        UnixSocketAddress? address = null;
        if (endpoint is not FileHandleEndPoint && !UnixSocketAddress.TryFromEndPoint(endpoint, out address))
        {
            throw new NotSupportedException($"{endpoint.GetType().Name} '{endpoint}' is not a unix socket endpoint.");
        }

        var loops = AcquireLoops();
        var released = 0;
        void Release()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                ReleaseLoops();
            }
        }
        try
        {
            if (endpoint is FileHandleEndPoint handle)
            {
                if (!InheritedSocket.IsUnix(handle, out var isPacket))
                {
                    throw new NotSupportedException($"File handle {handle.FileHandle} is not a listening unix socket.");
                }
                var adopted = await UnixConnectionListener.AdoptAsync(handle, new Interop.SafeFdHandle((int)handle.FileHandle), isPacket, CurrentOptions, loops, Release, _logger).ConfigureAwait(false);
                adopted.Metrics = new ListenerMetrics(_metrics, $"fd {handle.FileHandle}", isPacket);
                return adopted;
            }
            var listener = await UnixConnectionListener.BindAsync(address!, CurrentOptions, loops, Release, _logger).ConfigureAwait(false);
            listener.Metrics = new ListenerMetrics(_metrics, address!.DisplayName, address.IsSeqpacket);
            return listener;
        }
        catch
        {
            Release();
            throw;
        }
    }

    // The loops live while any listener does; the last listener's disposal stops them.
    private EventLoopGroup AcquireLoops()
    {
        lock (_gate)
        {
            _loops ??= new EventLoopGroup(CurrentOptions, _memoryPoolFactory, _logger, _metrics);
            _listeners++;
            return _loops;
        }
    }

    private void ReleaseLoops()
    {
        EventLoopGroup? stopping = null;
        lock (_gate)
        {
            if (--_listeners == 0)
            {
                stopping = _loops;
                _loops = null;
            }
        }
        stopping?.Dispose();
    }
}
