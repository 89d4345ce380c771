using System.Net;
using System.Runtime.InteropServices;
using Transport.UnixNative.Client.Internal;

namespace Transport.UnixNative.Client;

/// <summary>
/// An HttpClient handler for unix sockets: a <see cref="SocketsHttpHandler"/> (pooling, timeouts, HTTP/2,
/// decompression all stay) whose connections go to unix sockets, plus <c>http+unix://</c> URLs.
/// </summary>
/// <remarks>
/// <para>
/// URLs name the socket in the host, percent-encoded: <c>http+unix://%2Frun%2Fapp%2Fapp.sock/json</c> for the
/// path <c>/run/app/app.sock</c>, <c>http+unix://%40sidecar/json</c> for the abstract address <c>@sidecar</c>,
/// and <c>http+unix+seqpacket://…</c> for a <c>SOCK_SEQPACKET</c> socket. Such requests carry
/// <c>Host: localhost</c> unless the request sets its own Host header. <see cref="Uri"/> parses these URLs only
/// after <see cref="RegisterUriSchemes"/>, which changes <see cref="Uri"/> for the whole process: no handler calls
/// it for you. A handler created for one socket (<see cref="UnixSocketClientOptions.Address"/>) refuses URLs that
/// name another one unless <see cref="UnixSocketClientOptions.AllowOtherSockets"/> is set.
/// </para>
/// <para>
/// SocketsHttpHandler accepts only http and https, and keys its connection pools by scheme, host and port.
/// So this handler sends an <c>http+unix</c> request as a copy addressed to <c>http://</c> with a synthetic
/// host that spells out the socket and is signed with a key only this handler knows (for example
/// <c>f5zhk3tof5qxa4bofzzw6y3l.&lt;mac&gt;.stream.unix.invalid</c>): each socket gets its own pool, the
/// ConnectCallback reads the socket back from the host, and the Host header still says <c>localhost</c>.
/// The caller's request message is never changed; the response's <see cref="HttpResponseMessage.RequestMessage"/>
/// is the copy, showing the <c>http+unix</c> URL. A <c>.unix.invalid</c> host the handler did not make itself
/// (a redirect from a TCP server, a URL from user input) is refused and never reaches a local socket.
/// </para>
/// <para>Plain <c>http://</c> URLs go to <see cref="UnixSocketClientOptions.Address"/> when it is set, else over TCP.</para>
/// </remarks>
public sealed class UnixSocketHttpHandler : DelegatingHandler
{
    /// <summary>The URL scheme for HTTP over a unix stream socket.</summary>
    public const string UnixScheme = "http+unix";

    /// <summary>The URL scheme for HTTP over a unix <c>SOCK_SEQPACKET</c> socket.</summary>
    public const string UnixSeqpacketScheme = "http+unix+seqpacket";

    private const string DefaultHostHeader = "localhost";

    private static readonly Lock s_registrationLock = new();
    private static volatile bool s_registered;

    private readonly bool _http2PriorKnowledge;
    private readonly bool _allRequestsToSocket;
    private readonly bool _allowOtherSockets;
    private readonly UnixSocketPoolHosts _hosts;
    private readonly UnixSocketTarget? _defaultTarget;
    private static long s_dedicatedConnections;

    /// <summary>
    /// Open files (<see cref="SafeHandle"/>s) to pass to the server with a request (<c>SCM_RIGHTS</c>): set it in
    /// <see cref="HttpRequestMessage.Options"/>. They are sent with the request's head (in a sendmsg of its own), on a connection
    /// made for that request alone (<c>Connection: close</c>), so no other request's bytes can carry them;
    /// HTTP/1.1 only (HTTP/2 multiplexes requests on one connection). Keep them open until the response
    /// arrives; the server gets its own copies. At most 253 (the kernel's <c>SCM_MAX_FD</c>).
    /// </summary>
    /// <example><code>
    /// using var file = File.OpenHandle("/var/log/big.log");
    /// var request = new HttpRequestMessage(HttpMethod.Post, "/files/sha256");
    /// request.Options.Set(UnixSocketHttpHandler.DescriptorsOption, [file]);
    /// </code></example>
    public static HttpRequestOptionsKey<IReadOnlyList<SafeHandle>> DescriptorsOption { get; } = new("Transport.UnixNative.Client.Descriptors");


    /// <summary>A handler for <c>http+unix://</c> URLs; plain <c>http://</c> URLs connect over TCP.</summary>
    public UnixSocketHttpHandler()
        : this(new UnixSocketClientOptions())
    {
    }

    /// <summary>A handler over a new <see cref="SocketsHttpHandler"/> with its defaults.</summary>
    /// <param name="options">Read once; later changes have no effect.</param>
    /// <exception cref="ArgumentException">The options name an invalid address or socket type.</exception>
    public UnixSocketHttpHandler(UnixSocketClientOptions options)
        : this(options, new SocketsHttpHandler())
    {
    }

    /// <summary>
    /// A handler over <paramref name="socketsHandler"/>, configured as you like (timeouts, pool lifetime,
    /// decompression, HTTP/2 settings). Its ConnectCallback is set; one it already had still connects
    /// requests that are not for a unix socket. Its proxy is bypassed for unix sockets.
    /// </summary>
    /// <param name="options">Read once; later changes have no effect.</param>
    /// <param name="socketsHandler">The handler that sends the requests; disposed with this one.</param>
    /// <exception cref="ArgumentException">The options name an invalid address or socket type.</exception>
    public UnixSocketHttpHandler(UnixSocketClientOptions options, SocketsHttpHandler socketsHandler)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(socketsHandler);
        _hosts = new UnixSocketPoolHosts();
        ConfigureSocketsHandler(socketsHandler, options, _hosts);
        _http2PriorKnowledge = options.Http2PriorKnowledge;
        _allRequestsToSocket = options.Address is not null;
        _allowOtherSockets = options.AllowOtherSockets;
        _defaultTarget = DefaultTargetOf(options);
        InnerHandler = socketsHandler;
    }

    /// <summary>For IHttpClientFactory, which supplies the inner handler itself (configured with the same <paramref name="hosts"/>).</summary>
    internal UnixSocketHttpHandler(UnixSocketClientOptions options, UnixSocketPoolHosts hosts)
    {
        _hosts = hosts;
        _http2PriorKnowledge = options.Http2PriorKnowledge;
        _allRequestsToSocket = options.Address is not null;
        _allowOtherSockets = options.AllowOtherSockets;
        _defaultTarget = DefaultTargetOf(options);
    }

    private static UnixSocketTarget? DefaultTargetOf(UnixSocketClientOptions options)
        => options.Address is { } address ? UnixSocketTarget.Parse(address, options.SocketType == System.Net.Sockets.SocketType.Seqpacket) : null;

    /// <summary>A handler whose requests all go to <paramref name="address"/> (and <c>http+unix://</c> URLs to theirs).</summary>
    /// <param name="address">An absolute path (<c>/run/app/app.sock</c>) or <c>@name</c> for a Linux abstract address.</param>
    /// <exception cref="ArgumentException">The address cannot name a unix socket (relative, empty, or longer than 107 bytes).</exception>
    /// <example><code>var http = new HttpClient(UnixSocketHttpHandler.Create("/run/app/app.sock")) { BaseAddress = new("http://localhost") };</code></example>
    public static UnixSocketHttpHandler Create(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return new UnixSocketHttpHandler(new UnixSocketClientOptions { Address = address });
    }

    /// <summary>A handler whose requests all go to <paramref name="address"/>, with more options.</summary>
    /// <param name="address">An absolute path or <c>@name</c> for a Linux abstract address.</param>
    /// <param name="configure">Sets further options (socket type, expected server identity, HTTP/2).</param>
    /// <exception cref="ArgumentException">The options name an invalid address or socket type.</exception>
    public static UnixSocketHttpHandler Create(string address, Action<UnixSocketClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new UnixSocketClientOptions { Address = address };
        configure(options);
        return new UnixSocketHttpHandler(options);
    }

    /// <summary>
    /// A handler whose requests all go over <paramref name="socket"/>, one already-connected unix socket (an end
    /// of a <see cref="UnixSocketPair"/>, or a socket inherited from a parent). There is one connection and no
    /// address to reconnect to: once the server closes it (for example after its keep-alive timeout), requests fail.
    /// </summary>
    /// <param name="socket">A connected stream or seqpacket unix socket; the handler owns it from here on.</param>
    /// <example><code>
    /// var (server, client) = UnixSocketPair.Create();
    /// // … Kestrel: k.ListenConnectedHandle(server.SafeHandle)
    /// var http = new HttpClient(UnixSocketHttpHandler.ForConnectedSocket(client)) { BaseAddress = new("http://localhost") };
    /// </code></example>
    public static UnixSocketHttpHandler ForConnectedSocket(System.Net.Sockets.Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.AddressFamily != System.Net.Sockets.AddressFamily.Unix || socket.SocketType is not (System.Net.Sockets.SocketType.Stream or System.Net.Sockets.SocketType.Seqpacket))
        {
            throw new ArgumentException($"Expected a connected unix stream or seqpacket socket, not {socket.AddressFamily}/{socket.SocketType}.", nameof(socket));
        }
        var remaining = socket;
        var sockets = new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = 1,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectCallback = (_, _) =>
            {
                var connected = Interlocked.Exchange(ref remaining, null)
                    ?? throw new HttpRequestException("The handler's one connected socket was used and has closed; it cannot reconnect.");
                Stream stream = connected.SocketType == System.Net.Sockets.SocketType.Seqpacket
                    ? new SeqpacketStream(connected, ownsSocket: true)
                    : new System.Net.Sockets.NetworkStream(connected, ownsSocket: true);
                return ValueTask.FromResult(stream);
            },
        };
        return new UnixSocketHttpHandler(new UnixSocketClientOptions(), sockets);
    }

    /// <summary>
    /// Teaches <see cref="Uri"/> the <c>http+unix</c> and <c>http+unix+seqpacket</c> schemes (a percent-encoded
    /// path as the host is not a valid host name otherwise), so <c>http+unix://…</c> strings parse. An explicit,
    /// process-wide opt-in: no handler calls it. Call it once at startup in a program that wants such URLs
    /// (a command-line tool); a library should not. Safe to call more than once.
    /// </summary>
    /// <remarks>
    /// The registration is for the whole process and cannot be undone. Once made, a redirect to an
    /// <c>http+unix://</c> URL parses, and an <see cref="HttpClient"/> over a plain <see cref="SocketsHttpHandler"/>
    /// that follows one fails with <see cref="UriFormatException"/> from the runtime rather than returning the
    /// redirect (this handler turns it into an <see cref="HttpRequestException"/>). Without the registration such a
    /// <c>Location</c> does not parse and every client returns the redirect response as it is.
    /// </remarks>
    public static void RegisterUriSchemes()
    {
        if (s_registered)
        {
            return;
        }
        lock (s_registrationLock)
        {
            foreach (var scheme in (ReadOnlySpan<string>)[UnixScheme, UnixSeqpacketScheme])
            {
                if (!UriParser.IsKnownScheme(scheme))
                {
                    // Generic authority: any host text. Keep %2F in paths as the http scheme does.
                    UriParser.Register(new GenericUriParser(GenericUriParserOptions.GenericAuthority | GenericUriParserOptions.DontUnescapePathDotsAndSlashes), scheme, -1);
                }
            }
            s_registered = true;
        }
    }

    /// <summary>Points <paramref name="handler"/>'s connections at unix sockets; shared with the IHttpClientFactory extension.</summary>
    internal static void ConfigureSocketsHandler(SocketsHttpHandler handler, UnixSocketClientOptions options, UnixSocketPoolHosts hosts)
    {
        var connector = new UnixSocketConnector(options, fallback: handler.ConnectCallback, hosts);
        handler.ConnectCallback = connector.ConnectAsync;
        if (connector.DefaultTarget is not null)
        {
            // Every request goes to the socket: a proxy from the environment must not get them.
            handler.UseProxy = false;
        }
        else if (handler.UseProxy && handler.Proxy is not UnixSocketProxyBypass)
        {
            handler.Proxy = new UnixSocketProxyBypass(handler.Proxy);
        }
    }

    /// <inheritdoc/>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var outgoing = Prepare(request);
        try
        {
            return Restore(base.Send(outgoing, cancellationToken), request.RequestUri);
        }
        catch (HttpRequestException e) when (e.InnerException is UnixSocketConnectException connect)
        {
            throw connect.ToPublic();
        }
        catch (UriFormatException e)
        {
            throw UnusableUrl(e);
        }
    }

    /// <inheritdoc/>
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var outgoing = Prepare(request);
        try
        {
            return Restore(await base.SendAsync(outgoing, cancellationToken).ConfigureAwait(false), request.RequestUri);
        }
        catch (HttpRequestException e) when (e.InnerException is UnixSocketConnectException connect)
        {
            // SocketsHttpHandler appended "(synthetic-host:80)" and nested our exception; give back ours.
            throw connect.ToPublic();
        }
        catch (UriFormatException e)
        {
            throw UnusableUrl(e);
        }
    }

    /// <summary>
    /// SocketsHttpHandler follows a redirect to any scheme <see cref="Uri"/> can parse and throws
    /// <see cref="UriFormatException"/> building a pool for an <c>http+unix</c> host (after <see cref="RegisterUriSchemes"/>):
    /// callers expect an <see cref="HttpRequestException"/>. Such a redirect never reaches a socket either way.
    /// </summary>
    private static HttpRequestException UnusableUrl(UriFormatException e)
        => new(HttpRequestError.Unknown,
            "Refusing a URL the HTTP stack cannot connect to (a redirect to an http+unix:// URL is never followed): " + e.Message, e);

    /// <summary>
    /// The message to send: <paramref name="request"/> itself when it goes over TCP untouched, otherwise a
    /// copy (the caller's message is never changed) addressed to the socket's synthetic host, or upgraded
    /// to HTTP/2 for a socket with <see cref="UnixSocketClientOptions.Http2PriorKnowledge"/>.
    /// </summary>
    private HttpRequestMessage Prepare(HttpRequestMessage request)
    {
        var uri = request.RequestUri;
        var isUnixUrl = uri is { IsAbsoluteUri: true } && TryGetSocketType(uri.Scheme, out _);
        var toSocket = isUnixUrl || _allRequestsToSocket;
        var passesDescriptors = request.Options.TryGetValue(DescriptorsOption, out var descriptors) && descriptors is { Count: > 0 };
        if (passesDescriptors)
        {
            CheckDescriptorRequest(request, descriptors!, toSocket && (isUnixUrl || _defaultTarget is not null));
        }
        var upgrade = toSocket && !passesDescriptors && _http2PriorKnowledge && request.Version == HttpVersion.Version11
            && request.VersionPolicy == HttpVersionPolicy.RequestVersionOrLower;
        if (!isUnixUrl && !upgrade && !passesDescriptors)
        {
            return request;
        }
        var target = uri!;
        string? poolHost = null;
        if (isUnixUrl || passesDescriptors)
        {
            UnixSocketTarget socket;
            if (isUnixUrl)
            {
                TryGetSocketType(uri!.Scheme, out var isSeqpacket);
                try
                {
                    socket = UnixSocketTarget.Parse(uri.GetComponents(UriComponents.Host, UriFormat.Unescaped), isSeqpacket);
                }
                catch (UnixSocketAddressException e)
                {
                    throw ConnectErrors.InvalidAddress(e).ToPublic();
                }
            }
            else
            {
                socket = _defaultTarget!;
            }
            if (isUnixUrl && _defaultTarget is not null && !_allowOtherSockets && !socket.Equals(_defaultTarget))
            {
                // A URL built from user input on a BaseAddress must not reach /var/run/docker.sock.
                throw new HttpRequestException(HttpRequestError.ConnectionError,
                    $"Refusing {uri!.Scheme}:// URL naming {socket}: this handler was created for {_defaultTarget} only. " +
                    $"Set {nameof(UnixSocketClientOptions)}.{nameof(UnixSocketClientOptions.AllowOtherSockets)} to let URLs name other sockets.");
            }
            poolHost = _hosts.HostFor(socket);
            if (passesDescriptors)
            {
                // A pool of its own: the connection is made for this request, so its first write is this request's head.
                poolHost = UnixSocketPoolHosts.Dedicated(poolHost, Interlocked.Increment(ref s_dedicatedConnections));
            }
            target = new Uri("http://" + poolHost + uri!.GetComponents(UriComponents.PathAndQuery, UriFormat.UriEscaped));
        }
        var copy = new HttpRequestMessage(request.Method, target)
        {
            Content = request.Content,
            Version = passesDescriptors ? HttpVersion.Version11 : upgrade ? HttpVersion.Version20 : request.Version,
            VersionPolicy = upgrade || passesDescriptors ? HttpVersionPolicy.RequestVersionExact : request.VersionPolicy,
        };
        foreach (var header in request.Headers)
        {
            copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
        foreach (var option in request.Options)
        {
            ((IDictionary<string, object?>)copy.Options)[option.Key] = option.Value;
        }
        if (poolHost is not null)
        {
            copy.Headers.Host ??= DefaultHostHeader;
            copy.Options.Set(UnixSocketConnector.PoolHostOption, poolHost);
        }
        if (passesDescriptors)
        {
            copy.Headers.ConnectionClose = true;
        }
        return copy;
    }

    private static void CheckDescriptorRequest(HttpRequestMessage request, IReadOnlyList<SafeHandle> descriptors, bool toSocket)
    {
        if (!toSocket)
        {
            throw new InvalidOperationException("Descriptors travel only over a unix socket: use an http+unix:// URL or a handler created with an address.");
        }
        if (descriptors.Count > 253)
        {
            throw new ArgumentException($"A request carries at most 253 descriptors (the kernel's SCM_MAX_FD); {descriptors.Count} were given.", nameof(request));
        }
        if (request.Version.Major >= 2 && request.VersionPolicy != HttpVersionPolicy.RequestVersionOrLower)
        {
            throw new InvalidOperationException("Descriptors travel only with HTTP/1.1 requests: HTTP/2 multiplexes requests, so the server could not tell whose they are.");
        }
    }

    /// <summary>
    /// Gives the response's request the caller's own scheme and authority back in place of the synthetic host
    /// (the path is the one finally sent, after any redirect on the same socket). Building an <c>http+unix</c>
    /// URL here would need <see cref="RegisterUriSchemes"/>, which handlers never call.
    /// </summary>
    private HttpResponseMessage Restore(HttpResponseMessage response, Uri? original)
    {
        if (original is { IsAbsoluteUri: true }
            && response.RequestMessage is { RequestUri: { IsAbsoluteUri: true } now } sent
            && UnixSocketPoolHosts.LooksSynthetic(now.Host))
        {
            sent.RequestUri = new Uri(original.GetComponents(UriComponents.SchemeAndServer | UriComponents.UserInfo, UriFormat.UriEscaped)
                + now.GetComponents(UriComponents.PathAndQuery, UriFormat.UriEscaped));
        }
        return response;
    }

    private static bool TryGetSocketType(string scheme, out bool isSeqpacket)
    {
        isSeqpacket = scheme.Equals(UnixSeqpacketScheme, StringComparison.OrdinalIgnoreCase);
        return isSeqpacket || scheme.Equals(UnixScheme, StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>Keeps the configured (or environment's) proxy for TCP hosts and never proxies a unix socket's synthetic host.</summary>
internal sealed class UnixSocketProxyBypass(IWebProxy? inner) : IWebProxy
{
    private IWebProxy Inner => inner ?? HttpClient.DefaultProxy;

    public ICredentials? Credentials
    {
        get => Inner.Credentials;
        set => Inner.Credentials = value;
    }

    public Uri? GetProxy(Uri destination) => IsUnix(destination) ? null : Inner.GetProxy(destination);

    public bool IsBypassed(Uri host) => IsUnix(host) || Inner.IsBypassed(host);

    private static bool IsUnix(Uri uri) => UnixSocketPoolHosts.LooksSynthetic(uri.Host);
}
