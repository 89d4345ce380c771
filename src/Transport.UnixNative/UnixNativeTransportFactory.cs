using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using System.Diagnostics.Metrics;
using Transport.UnixNative.Access;
using Transport.UnixNative.Connected;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Listener;
using Transport.UnixNative.Core.Loop;
using Transport.UnixNative.Restart;
using Transport.UnixNative.SendFile;

namespace Transport.UnixNative;

/// <summary>
/// Binds unix socket endpoints (paths, <c>@abstract</c> names, stream and seqpacket) on native
/// epoll threads. It claims nothing else: TCP endpoints stay on Kestrel's Sockets transport.
/// </summary>
public sealed class UnixNativeTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector, IRestartableTransport
{
    private readonly IOptions<UnixNativeTransportOptions> _optionsAccessor;
    private readonly IMemoryPoolFactory<byte> _memoryPoolFactory;
    private readonly ILogger _logger;
    private readonly UnixNativeMetrics _metrics;
    private readonly object _gate = new();
    private readonly Lazy<InheritedSockets> _inherited;
    private readonly HashSet<UnixConnectionListener> _live = [];
    private EventLoopGroup? _loops;
    private int _listeners;
    private int _warnedFallback;

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
        _inherited = new Lazy<InheritedSockets>(() => InheritedSockets.Gather(CurrentOptions, _logger));
    }

    private InheritedSockets Inherited => _inherited.Value;

    InheritedSockets IRestartableTransport.Inherited => Inherited;

    bool IRestartableTransport.HasGatheredInherited => _inherited.IsValueCreated;

    IReadOnlyList<UnixConnectionListener> IRestartableTransport.Listeners => Listeners;

    private UnixConnectionListener[] Listeners
    {
        get
        {
            lock (_gate)
            {
                return _live.ToArray();
            }
        }
    }

    void IRestartableTransport.OpenAccepts()
    {
        foreach (var listener in Listeners)
        {
            listener.OpenAccepts();
        }
    }

    void IRestartableTransport.TakeOverSocketFiles()
    {
        foreach (var listener in Listeners.Where(l => l.FromPredecessor))
        {
            listener.OwnSocketFile();
        }
    }

    void IRestartableTransport.ReleaseUnservedInherited(bool ownsPredecessorFiles)
    {
        var served = Listeners.Select(l => l.Address).OfType<UnixSocketAddress>().ToArray();
        foreach (var socket in Inherited.All)
        {
            if (served.Any(a => a.Name == socket.Address.Name && a.IsAbstract == socket.Address.IsAbstract && a.IsSeqpacket == socket.Address.IsSeqpacket))
            {
                continue;
            }
            if (socket.Source == InheritedFrom.Systemd)
            {
                TransportLog.ActivatedSocketUnserved(_logger, socket.Address.DisplayName, socket.FdName);
                continue;
            }
            TransportLog.HandoverSocketUnserved(_logger, socket.Address.DisplayName);
            socket.Fd.Dispose();
            if (ownsPredecessorFiles && socket.OwnedFile is { } file && !socket.Address.IsAbstract)
            {
                SocketFile.DeleteIfOwned(socket.Address.Name, file);
            }
        }
    }

    async Task IRestartableTransport.StopAcceptingAsync()
    {
        foreach (var listener in Listeners)
        {
            await listener.UnbindAsync().ConfigureAwait(false);
        }
    }

    private static string Describe(EndPoint endpoint) => endpoint switch
    {
        System.Net.Sockets.UnixDomainSocketEndPoint unix when ActivatedEndPoint.TryGetFdName(unix, out var fdName) => "unix-fd:" + fdName,
        _ when UnixSocketAddress.TryFromEndPoint(endpoint, out var address) => (address!.IsSeqpacket ? "unix-seqpacket:" : "") + address,
        _ => endpoint.ToString() ?? endpoint.GetType().Name,
    };

    // Read when binding, not when Kestrel is constructed: a bad setting then fails the host's start
    // with ValidateOnStart's message instead of WebApplicationBuilder.Build().
    private UnixNativeTransportOptions CurrentOptions => _optionsAccessor.Value;

    /// <summary>Whether <paramref name="endpoint"/> is a unix socket this transport serves.</summary>
    public bool CanBind(EndPoint endpoint) => CurrentOptions.UnsupportedOS() is { } os ? CanBindElsewhere(endpoint, os) : endpoint switch
    {
        System.Net.Sockets.UnixDomainSocketEndPoint or UnixSeqpacketEndPoint => true,
        FileHandleEndPoint handle => InheritedSocket.IsUnix(handle, out _),
        UnixConnectedEndPoint => true, // BindAsync says what is wrong with the handle, if anything
        _ => false,
    };

    /// <summary>
    /// Not on Linux, with FallBackToSocketsTransportOnUnsupportedOS (else startup failed already): a
    /// path goes to Kestrel's Sockets transport (one warning); what only Linux has is claimed so that
    /// BindAsync fails naming it, instead of Kestrel's "no transport supports this endpoint".
    /// </summary>
    private bool CanBindElsewhere(EndPoint endpoint, string os)
    {
        if (endpoint is System.Net.Sockets.UnixDomainSocketEndPoint unix && unix.ToString() is { Length: > 0 } text
            && text[0] == '/' && !text.Contains('\0'))
        {
            if (Interlocked.Exchange(ref _warnedFallback, 1) == 0)
            {
                TransportLog.FallBackToSocketsTransport(_logger, os, text);
            }
            return false;
        }
        return endpoint is System.Net.Sockets.UnixDomainSocketEndPoint or UnixSeqpacketEndPoint or UnixConnectedEndPoint;
    }

    /// <inheritdoc/>
    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (CurrentOptions.UnsupportedOS() is { } os)
        {
            throw TransportPlatform.NotServedByFallback(Describe(endpoint), os);
        }
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
                    CurrentOptions, new ListenerAccess(CurrentOptions), loops, Release, _logger).ConfigureAwait(false);
            }
            else if (inherited is not null)
            {
                // Each binding gets its own duplicate: the original stays open to be handed on again.
                var duplicate = Interop.Libc.Duplicate(inherited.Fd, out var duplicateErrno);
                if (duplicate.IsInvalid)
                {
                    throw NativeError.Exception("Cannot duplicate inherited socket", inherited.Address.DisplayName, duplicateErrno);
                }
                var served = address! with { Name = inherited.Address.Name, IsAbstract = inherited.Address.IsAbstract };
                listener = await UnixConnectionListener.AdoptAsync(served.ToEndPoint(), duplicate, served, inherited.OwnedFile, served.IsSeqpacket, inherited.FdName,
                    fromPredecessor: inherited.Source == InheritedFrom.Predecessor, CurrentOptions, new ListenerAccess(CurrentOptions), loops, Release, _logger).ConfigureAwait(false);
            }
            else
            {
                listener = await UnixConnectionListener.BindAsync(address!, CurrentOptions, new ListenerAccess(CurrentOptions), loops, Release, _logger).ConfigureAwait(false);
            }
            // Before Kestrel's first AcceptAsync, so every connection is counted.
            listener.Metrics = new ListenerMetrics(_metrics, listener.Address?.DisplayName ?? listener.EndPoint.ToString() ?? "", listener.IsPacket);
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
            var listener = ConnectedSocketListener.Create(endpoint, new ListenerAccess(CurrentOptions), loops, Release, _logger);
            // One address tag for every socket pair: the fd number would give each its own time series.
            listener.Metrics = new ListenerMetrics(_metrics, "unix-connected", listener.IsPacket);
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
            _loops ??= new EventLoopGroup(CurrentOptions, _memoryPoolFactory, _logger, _metrics)
            {
                AttachSendFile = CurrentOptions.UseSendFile ? SendFileAttachment.Attach : null,
            };
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
