using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Transport.UnixNative.Activation;
using Transport.UnixNative.Internal;

namespace Transport.UnixNative;

/// <summary>
/// Binds unix socket endpoints (paths, <c>@abstract</c> names, stream and seqpacket) on native
/// epoll threads. It claims nothing else: TCP endpoints stay on Kestrel's Sockets transport.
/// </summary>
public sealed class UnixNativeTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly UnixNativeTransportOptions _options;
    private readonly IMemoryPoolFactory<byte> _memoryPoolFactory;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly Lazy<InheritedSockets> _inherited;
    private readonly HashSet<UnixConnectionListener> _live = [];
    private EventLoopGroup? _loops;
    private int _listeners;

    /// <summary>Creates the factory; Kestrel resolves it from dependency injection.</summary>
    public UnixNativeTransportFactory(IOptions<UnixNativeTransportOptions> options, ILoggerFactory loggerFactory, IMemoryPoolFactory<byte> memoryPoolFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(memoryPoolFactory);
        _options = options.Value;
        _memoryPoolFactory = memoryPoolFactory;
        _logger = loggerFactory.CreateLogger(TransportLog.CategoryName);
        _inherited = new Lazy<InheritedSockets>(() => InheritedSockets.Gather(_options, _logger));
    }

    /// <summary>Sockets from systemd or a predecessor, taken on first use (before Kestrel binds).</summary>
    internal InheritedSockets Inherited => _inherited.Value;

    internal bool HasGatheredInherited => _inherited.IsValueCreated;

    /// <summary>Every listener currently bound, for a hand-over.</summary>
    internal IReadOnlyList<UnixConnectionListener> Listeners
    {
        get
        {
            lock (_gate)
            {
                return _live.ToArray();
            }
        }
    }

    /// <summary>Lets the listeners taken from a predecessor accept: this process is ready to serve.</summary>
    internal void OpenAccepts()
    {
        foreach (var listener in Listeners)
        {
            listener.OpenAccepts();
        }
    }

    /// <summary>The predecessor no longer serves: the socket files it created are ours to remove now.</summary>
    internal void TakeOverSocketFiles()
    {
        foreach (var listener in Listeners.Where(l => l.FromPredecessor))
        {
            listener.OwnSocketFile();
        }
    }

    /// <summary>Stops accepting on every listener (new clients queue for the successor); connections carry on.</summary>
    internal async Task StopAcceptingAsync()
    {
        foreach (var listener in Listeners)
        {
            await listener.UnbindAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Whether <paramref name="endpoint"/> is a unix socket this transport serves.</summary>
    public bool CanBind(EndPoint endpoint) => endpoint switch
    {
        System.Net.Sockets.UnixDomainSocketEndPoint or UnixSeqpacketEndPoint => true,
        FileHandleEndPoint handle => InheritedSocket.IsUnix(handle, out _),
        UnixConnectedEndPoint => true, // BindAsync says what is wrong with the handle, if anything
        _ => false,
    };

    /// <inheritdoc/>
    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint is UnixConnectedEndPoint connected)
        {
            return BindConnected(connected);
        }
        UnixSocketAddress? address = null;
        InheritedListener? inherited = null;
        if (endpoint is System.Net.Sockets.UnixDomainSocketEndPoint unix && ActivatedEndPoint.TryGetFdName(unix, out var fdName))
        {
            inherited = Inherited.FindByName(fdName);
            address = inherited.Address;
        }
        else if (endpoint is FileHandleEndPoint handleEndPoint)
        {
            // ListenHandle(3) from UseSystemd() names a descriptor we took already: share it, never own it twice.
            inherited = Inherited.All.FirstOrDefault(s => s.Fd.Fd == (long)handleEndPoint.FileHandle);
            address = inherited?.Address;
        }
        else
        {
            if (!UnixSocketAddress.TryFromEndPoint(endpoint, out address))
            {
                throw new NotSupportedException($"{endpoint.GetType().Name} '{endpoint}' is not a unix socket endpoint.");
            }
            // The same address as an activated or handed-over socket: serve that one, never bind again.
            inherited = Inherited.Find(address!);
        }

        var loops = AcquireLoops();
        var released = 0;
        UnixConnectionListener? listener = null;
        void Release()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                lock (_gate)
                {
                    _live.Remove(listener!);
                }
                ReleaseLoops();
            }
        }
        try
        {
            if (inherited is null && endpoint is FileHandleEndPoint handle)
            {
                if (!InheritedSocket.IsUnix(handle, out var isPacket))
                {
                    throw new NotSupportedException($"File handle {handle.FileHandle} is not a listening unix socket.");
                }
                InheritedSocket.TryGetAddress((int)handle.FileHandle, out var handleAddress);
                listener = await UnixConnectionListener.AdoptAsync(handle, new Interop.SafeFdHandle((int)handle.FileHandle), handleAddress, null, isPacket, null, false,
                    _options, loops, Release, _logger).ConfigureAwait(false);
            }
            else if (inherited is not null)
            {
                // Each binding gets its own duplicate: the original stays open to be handed on again.
                var duplicate = Interop.Libc.Duplicate(inherited.Fd);
                if (duplicate.IsInvalid)
                {
                    throw NativeError.Exception("Cannot duplicate inherited socket", inherited.Address.DisplayName, Interop.Libc.LastErrno);
                }
                var served = address! with { Name = inherited.Address.Name, IsAbstract = inherited.Address.IsAbstract };
                listener = await UnixConnectionListener.AdoptAsync(served.ToEndPoint(), duplicate, served, inherited.OwnedFile, served.IsSeqpacket, inherited.FdName,
                    fromPredecessor: inherited.Source == InheritedFrom.Predecessor, _options, loops, Release, _logger).ConfigureAwait(false);
            }
            else
            {
                listener = await UnixConnectionListener.BindAsync(address!, _options, loops, Release, _logger).ConfigureAwait(false);
            }
            lock (_gate)
            {
                _live.Add(listener);
            }
            return listener;
        }
        catch
        {
            Release();
            throw;
        }
    }

    /// <summary>One already-connected socket: a listener that hands out that connection once.</summary>
    private ConnectedSocketListener BindConnected(UnixConnectedEndPoint endpoint)
    {
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
            return ConnectedSocketListener.Create(endpoint, _options, loops, Release, _logger);
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
            _loops ??= new EventLoopGroup(_options, _memoryPoolFactory, _logger);
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
