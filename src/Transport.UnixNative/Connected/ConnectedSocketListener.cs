using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Listener;
using Transport.UnixNative.Core.Loop;

namespace Transport.UnixNative.Connected;

/// <summary>
/// A "listener" for one connected socket (<see cref="UnixConnectedEndPoint"/>): the first accept returns
/// the connection, every later one returns null, which ends Kestrel's accept loop for this endpoint.
/// </summary>
internal sealed class ConnectedSocketListener : IConnectionListener
{
    private readonly Action _releaseLoops;
    private readonly ListenerSettings _settings;
    private SafeFdHandle? _fd;
    private int _disposed;

    private ConnectedSocketListener(UnixConnectedEndPoint endPoint, SafeFdHandle fd, bool isPacket, EventLoopGroup loops, Action releaseLoops,
        ILogger logger, IPeerAdmission? peerAccess)
    {
        EndPoint = endPoint;
        _fd = fd;
        _releaseLoops = releaseLoops;
        _settings = new ListenerSettings(endPoint, endPoint, isPacket, loops, logger, peerAccess);
    }

    public EndPoint EndPoint { get; }

    public bool IsPacket => _settings.IsPacket;

    /// <summary>Set by the factory before Kestrel's first accept: a socket pair's connection is counted like any other.</summary>
    public ListenerMetrics? Metrics
    {
        get => _settings.Metrics;
        set => _settings.Metrics = value;
    }

    /// <summary>Whether <paramref name="endPoint"/>'s handle is a connected unix stream or seqpacket socket.</summary>
    public static bool IsConnectedUnix(UnixConnectedEndPoint endPoint, out bool isPacket, out string problem)
    {
        isPacket = false;
        if (endPoint.Handle.IsInvalid || endPoint.Handle.IsClosed)
        {
            problem = "the handle is closed or invalid";
            return false;
        }
        var fd = (int)endPoint.Handle.DangerousGetHandle();
        if (Interop.Socket.GetIntOption(fd, Interop.Socket.SOL_SOCKET, Interop.Socket.SO_DOMAIN, out var domain) != 0)
        {
            problem = $"it is not a socket ({Libc.Describe(Libc.LastErrno)})";
            return false;
        }
        Interop.Socket.GetIntOption(fd, Interop.Socket.SOL_SOCKET, Interop.Socket.SO_TYPE, out var type);
        Interop.Socket.GetIntOption(fd, Interop.Socket.SOL_SOCKET, Interop.Socket.SO_ACCEPTCONN, out var listening);
        isPacket = type == Interop.Socket.SOCK_SEQPACKET;
        problem = domain != Interop.Socket.AF_UNIX ? "it is not a unix socket"
            : type is not (Interop.Socket.SOCK_STREAM or Interop.Socket.SOCK_SEQPACKET) ? "it is neither a stream nor a seqpacket socket"
            : listening != 0 ? "it is a listening socket (use a FileHandleEndPoint for that)"
            : "";
        return problem.Length == 0;
    }

    public static ConnectedSocketListener Create(UnixConnectedEndPoint endPoint, IListenerAccess access, EventLoopGroup loops,
        Action releaseLoops, ILogger logger)
    {
        if (!IsConnectedUnix(endPoint, out var isPacket, out var problem))
        {
            throw new NotSupportedException($"Cannot serve {endPoint}: {problem}.");
        }
        var fd = Libc.Duplicate(endPoint.Handle, out var errno);
        if (fd.IsInvalid)
        {
            throw NativeError.Exception("Cannot duplicate connected socket", endPoint.ToString(), errno);
        }
        var flags = Libc.fcntl(fd, Libc.F_GETFL, 0);
        if (flags < 0 || Libc.fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK) < 0)
        {
            errno = Libc.LastErrno;
            fd.Dispose();
            throw NativeError.Exception("Cannot make connected socket non-blocking:", endPoint.ToString(), errno);
        }
        return new ConnectedSocketListener(endPoint, fd, isPacket, loops, releaseLoops, logger, access.AdmissionForConnected());
    }

    public ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        var fd = Interlocked.Exchange(ref _fd, null);
        if (fd is null)
        {
            return ValueTask.FromResult<ConnectionContext?>(null); // served: the endpoint is done
        }
        // A socket pair's ends have no name. A refused or failed peer ends this endpoint: there is no other to accept.
        return ValueTask.FromResult<ConnectionContext?>(ConnectionSetup.Start(fd, [], _settings, out _));
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Exchange(ref _fd, null)?.Dispose(); // never served: nothing else holds it
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await UnbindAsync().ConfigureAwait(false);
            _releaseLoops();
        }
    }
}
