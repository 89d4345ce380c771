using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Restart;

/// <summary>
/// Ties the hand-over to the host's life: once the application has started (every endpoint bound),
/// accept on the predecessor's sockets, tell it to stop, and listen for a successor; on stop, close
/// the control socket.
/// </summary>
internal sealed class HandoverLifetime(IEnumerable<IConnectionListenerFactory> factories, IHostApplicationLifetime lifetime,
    IOptions<UnixNativeTransportOptions> options, ILoggerFactory loggerFactory) : IHostedService
{
    private readonly ILogger _logger = loggerFactory.CreateLogger(TransportLog.CategoryName);
    private readonly object _gate = new();
    private HandoverServer? _server;
    private bool _stopped;
    private CancellationTokenRegistration _started;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var factory = factories.OfType<IRestartableTransport>().FirstOrDefault();
        if (factory is null)
        {
            return Task.CompletedTask;
        }
        _started = lifetime.ApplicationStarted.Register(() => Task.Run(() => OnStarted(factory)));
        return Task.CompletedTask;
    }

    private void OnStarted(IRestartableTransport factory)
    {
        factory.OpenAccepts();
        if (options.Value.UseSystemdFileDescriptorStore)
        {
            SystemdFdStore.Store(factory.Listeners, _logger);
        }
        Interop.SafeFdHandle? controlListener = null;
        if (factory.HasGatheredInherited)
        {
            var predecessorStopped = false;
            if (factory.Inherited.Predecessor is { } predecessor)
            {
                if (predecessor.Complete(_logger))
                {
                    factory.TakeOverSocketFiles();
                    predecessorStopped = true;
                    // An abstract control socket: the predecessor no longer accepts on it; we do from now on.
                    controlListener = predecessor.TakeControlListener();
                }
                predecessor.Dispose();
            }
            factory.ReleaseUnservedInherited(ownsPredecessorFiles: predecessorStopped);
        }
        if (options.Value.HandoverSocketPath is { } path)
        {
            try
            {
                lock (_gate)
                {
                    if (!_stopped)
                    {
                        _server = HandoverServer.Start(path, factory, lifetime, _logger, controlListener);
                        controlListener = null;
                    }
                }
            }
            catch (Exception exception) when (exception is IOException or ArgumentException or Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                // Serving goes on; only the next restart loses its hand-over.
                TransportLog.HandoverFailed(_logger, path, exception);
            }
        }
        controlListener?.Dispose();
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _started.Dispose();
        lock (_gate)
        {
            _stopped = true;
            _server?.Dispose();
        }
        return Task.CompletedTask;
    }
}
