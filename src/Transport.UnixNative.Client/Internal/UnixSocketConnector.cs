using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using UCred = Transport.UnixNative.Interop.UCred;

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// The connect path behind every public entry point: resolves which socket a SocketsHttpHandler
/// connection is for, connects, checks the peer if asked, and returns a stream that owns the socket.
/// </summary>
internal sealed class UnixSocketConnector
{
    private const int MaxBacklogRetryDelayMilliseconds = 50;
    private const int MaxCachedPoolHosts = 256;

    private readonly Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? _fallback;
    private readonly uint? _expectedUid;
    private readonly uint? _expectedGid;
    private readonly bool _inline;
    private readonly ConcurrentDictionary<string, UnixSocketTarget> _poolHosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly UnixSocketPoolHosts _hosts;

    /// <summary>Set by <see cref="UnixSocketHttpHandler"/> on the requests it rewrote: the synthetic host it gave them.</summary>
    internal static readonly HttpRequestOptionsKey<string> PoolHostOption = new("Transport.UnixNative.Client.PoolHost");

    /// <param name="options">Read once; later changes to it have no effect.</param>
    /// <param name="fallback">Connects requests that are not for a unix socket; null means plain TCP.</param>
    /// <param name="hosts">The synthetic hosts this connector trusts: those its handler made (null: none).</param>
    /// <exception cref="ArgumentException">The options name an invalid address or socket type.</exception>
    public UnixSocketConnector(UnixSocketClientOptions options, Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? fallback,
        UnixSocketPoolHosts? hosts = null)
    {
        _hosts = hosts ?? new UnixSocketPoolHosts();
        ArgumentNullException.ThrowIfNull(options);
        if (options.SocketType is not (SocketType.Stream or SocketType.Seqpacket))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.SocketType,
                "UnixSocketClientOptions.SocketType must be SocketType.Stream or SocketType.Seqpacket.");
        }
        try
        {
            DefaultTarget = options.Address is { } address ? UnixSocketTarget.Parse(address, options.SocketType == SocketType.Seqpacket) : null;
        }
        catch (UnixSocketAddressException e)
        {
            throw new ArgumentException(e.Message, nameof(options));
        }
        if (options.ExpectedServerUid is not null || options.ExpectedServerGid is not null)
        {
            ClientPlatform.RequireLinux("ExpectedServerUid/ExpectedServerGid (the server's credentials, SO_PEERCRED)", "Leave them unset; protect the socket with file permissions.");
        }
        _expectedUid = options.ExpectedServerUid;
        _expectedGid = options.ExpectedServerGid;
        _inline = options.UnsafePreferInlineCompletions;
        _fallback = fallback;
    }

    /// <summary>Where requests that do not name a socket go; null: over TCP (or the fallback callback).</summary>
    public UnixSocketTarget? DefaultTarget { get; }

    /// <summary>The SocketsHttpHandler.ConnectCallback.</summary>
    public ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        if (UnixSocketPoolHosts.LooksSynthetic(host))
        {
            // Only a request the handler rewrote itself may open a unix socket: a redirect from a TCP server
            // reuses the same request message, which then carries no (or another) rewritten host.
            if (context.InitialRequestMessage.Options.TryGetValue(PoolHostOption, out var rewritten)
                && string.Equals(rewritten, host, StringComparison.OrdinalIgnoreCase))
            {
                var target = PoolTarget(UnixSocketPoolHosts.WithoutDedicatedLabel(host));
                return context.InitialRequestMessage.Options.TryGetValue(UnixSocketHttpHandler.DescriptorsOption, out var descriptors) && descriptors is { Count: > 0 }
                    ? ConnectPassingDescriptorsAsync(target, descriptors, cancellationToken)
                    : ConnectAsync(target, cancellationToken, _inline);
            }
            return ValueTask.FromException<Stream>(Refused(host));
        }
        if (DefaultTarget is not null)
        {
            return ConnectAsync(DefaultTarget, cancellationToken, _inline);
        }
        return _fallback is not null ? _fallback(context, cancellationToken) : ConnectTcpAsync(context.DnsEndPoint, cancellationToken);
    }

    /// <summary>Connects to <paramref name="target"/>; the returned stream owns the socket.</summary>
    /// <param name="target">The socket to connect to.</param>
    /// <param name="cancellationToken">Cancels the connect and its retries.</param>
    /// <param name="inline">A stream socket gets an <see cref="InlineSocketStream"/> (UnsafePreferInlineCompletions).</param>
    public async ValueTask<Stream> ConnectAsync(UnixSocketTarget target, CancellationToken cancellationToken, bool inline = false)
    {
        inline &= !target.IsSeqpacket;
        var retryDelay = 1;
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, target.SocketType, ProtocolType.Unspecified);
            try
            {
                if (inline)
                {
                    // A non-blocking connect: a unix socket connects at once or fails with EAGAIN (backlog full, retried
                    // below). No async Socket call, or .NET's own epoll would watch the socket beside ours.
                    socket.Blocking = false;
                    socket.Connect(target.EndPoint);
                }
                else
                {
                    await socket.ConnectAsync(target.EndPoint, cancellationToken).ConfigureAwait(false);
                }
                if (_expectedUid is not null || _expectedGid is not null)
                {
                    VerifyPeer(socket, target);
                }
                return target.IsSeqpacket ? new SeqpacketStream(socket, ownsSocket: true)
                    : inline ? new InlineSocketStream(socket)
                    : new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
            {
                socket.Dispose();
            }
            catch (SocketException e)
            {
                socket.Dispose();
                throw ConnectErrors.ConnectFailed(target, e);
            }
            catch
            {
                // Cancelled, or the peer check failed: the socket is ours to close.
                socket.Dispose();
                throw;
            }

            // EAGAIN: the server's accept queue is full. A non-blocking unix connect fails at once and gives
            // no readiness signal for this, so retry with backoff, the way TCP retransmits a SYN, until
            // SocketsHttpHandler.ConnectTimeout or the caller's token cancels.
            await Task.Delay(retryDelay, cancellationToken).ConfigureAwait(false);
            retryDelay = Math.Min(retryDelay * 2, MaxBacklogRetryDelayMilliseconds);
        }
    }

    /// <summary>A connection for one request: its first write carries <paramref name="descriptors"/>.</summary>
    private async ValueTask<Stream> ConnectPassingDescriptorsAsync(UnixSocketTarget target, IReadOnlyList<SafeHandle> descriptors, CancellationToken cancellationToken)
    {
        var stream = await ConnectAsync(target, cancellationToken).ConfigureAwait(false);
        var socket = stream switch
        {
            NetworkStream network => network.Socket,
            SeqpacketStream seqpacket => seqpacket.Socket,
            _ => throw new InvalidOperationException("Unexpected stream type."),
        };
        return new DescriptorPassingStream(stream, socket, descriptors);
    }

    private UnixSocketTarget PoolTarget(string host)
    {
        if (_poolHosts.TryGetValue(host, out var target))
        {
            return target;
        }
        if (!_hosts.TryParse(host, out target))
        {
            throw Refused(host);
        }
        if (_poolHosts.Count >= MaxCachedPoolHosts)
        {
            _poolHosts.Clear();
        }
        _poolHosts.TryAdd(host, target!);
        return target!;
    }

    private static UnixSocketConnectException Refused(string host) => new(
        $"Refusing to connect to '{host}': a host ending in '{UnixSocketPoolHosts.Suffix}' that this handler did not make for an http+unix URL " +
        "(a redirect from a TCP server, or a URL from elsewhere) never reaches a local socket.", innerException: null);

    private void VerifyPeer(Socket socket, UnixSocketTarget target)
    {
        Span<byte> buffer = stackalloc byte[Unsafe.SizeOf<UCred>()];
        int length;
        try
        {
            length = socket.GetRawSocketOption(Interop.Socket.SOL_SOCKET, Interop.Socket.SO_PEERCRED, buffer);
        }
        catch (SocketException e)
        {
            throw new UnixSocketConnectException($"Cannot read the credentials (SO_PEERCRED) of unix socket '{target}': {e.Message}", e);
        }
        if (length < buffer.Length)
        {
            throw new UnixSocketConnectException($"Cannot read the credentials (SO_PEERCRED) of unix socket '{target}': got {length} bytes.", innerException: null);
        }
        var peer = MemoryMarshal.Read<UCred>(buffer);
        var (pid, uid, gid) = (peer.Pid, peer.Uid, peer.Gid);
        if ((_expectedUid is uint u && u != uid) || (_expectedGid is uint g && g != gid))
        {
            var expected = (_expectedUid, _expectedGid) switch
            {
                (uint eu, uint eg) => $"uid {eu} gid {eg}",
                (uint eu, null) => $"uid {eu}",
                (null, uint eg) => $"gid {eg}",
                _ => "nothing",
            };
            throw ConnectErrors.WrongPeer(target, $"uid {uid} gid {gid} (pid {pid})", expected);
        }
    }

    /// <summary>What SocketsHttpHandler does without a ConnectCallback: a dual-mode TCP socket, no Nagle.</summary>
    private static async ValueTask<Stream> ConnectTcpAsync(DnsEndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
