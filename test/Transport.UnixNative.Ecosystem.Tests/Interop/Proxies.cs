using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Client;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>A reverse proxy in front of an <see cref="InteropServer"/>, itself listening on a unix socket.</summary>
internal interface IProxy : IAsyncDisposable
{
    /// <summary>The proxy's own (front) socket path.</summary>
    string Socket { get; }
}

/// <summary>The proxy configurations docs/proxies.md shows; the config text there is this text.</summary>
internal static class Proxy
{
    public static async Task<IProxy> StartAsync(string kind, InteropServer backend) => kind switch
    {
        "nginx-keepalive" or "nginx-plain" => await NginxProxy.StartAsync(backend, keepalive: kind == "nginx-keepalive"),
        "haproxy" or "haproxy-h2" => await HaproxyProxy.StartAsync(backend, http2: kind == "haproxy-h2"),
        "yarp-factory" or "yarp-url" or "yarp-callback" or "yarp-h2c" => await YarpProxy.StartAsync(kind, backend),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Whether <paramref name="kind"/> talks HTTP/2 (h2c) to the backend, which then listens Http2-only.</summary>
    public static bool NeedsHttp2Backend(string kind) => kind is "haproxy-h2" or "yarp-h2c";
}

/// <summary>A proxy run as an outside program, its files in a private directory; killed and cleaned up on dispose.</summary>
internal abstract class OutsideProxy : IProxy
{
    private ExternalProcess? _process;

    protected PrivateDirectory Dir { get; } = new();

    public string Socket => Dir.File("front.sock");

    /// <summary>Starts <paramref name="program"/> and waits until <paramref name="ready"/> says it serves; disposes this proxy if it never does.</summary>
    protected async Task RunAsync(string program, string[] arguments, Func<ExternalProcess, Task> ready)
    {
        _process = ExternalProcess.Start(program, arguments);
        try
        {
            await ready(_process);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
        Dir.Dispose();
    }
}

/// <summary>nginx (<c>nginx -p dir -c conf -g 'daemon off;'</c>) with its config, pid and temp files in a private directory.</summary>
internal sealed class NginxProxy : OutsideProxy
{
    /// <summary>The config for a backend on <paramref name="backendPath"/>; <paramref name="keepalive"/>: a pooled upstream, else a plain proxy_pass.</summary>
    public static string Config(string backendPath, string frontSocket, bool keepalive)
    {
        var pass = keepalive ? "http://backend" : $"http://unix:{backendPath}:";
        // Pooled: an upstream with keepalive needs HTTP/1.1 and an empty Connection header towards it.
        var pooled = keepalive ? "proxy_http_version 1.1;\n            proxy_set_header Connection \"\";" : string.Empty;
        return $$"""
            upstream backend {
                server unix:{{backendPath}};
                keepalive 16;
            }
            server {
                listen unix:{{frontSocket}};
                client_max_body_size 64m;
                location / {
                    proxy_pass {{pass}};
                    {{pooled}}
                }
                location /sse {
                    proxy_pass {{pass}};
                    {{pooled}}
                    proxy_buffering off;
                }
                location /ws {
                    proxy_pass {{pass}};
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                }
            }
            """;
    }

    public static async Task<NginxProxy> StartAsync(InteropServer backend, bool keepalive)
    {
        var proxy = new NginxProxy();
        var dir = proxy.Dir.Path;
        // Workers as root: they must connect to a socket file made under root's umask (mode 0755: only root may connect).
        var config = proxy.Dir.Write("nginx.conf", string.Create(CultureInfo.InvariantCulture, $$"""
            user root;
            worker_processes 1;
            pid {{dir}}/nginx.pid;
            error_log stderr notice;
            events { worker_connections 512; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/client_body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
            {{Config(backend.Address, proxy.Socket, keepalive)}}
            }
            """));
        // nginx has bound its sockets when it starts its workers, and says so.
        await proxy.RunAsync("nginx", ["-p", dir, "-e", "stderr", "-c", config, "-g", "daemon off;"],
            process => process.WaitForLineAsync(line => line.Contains("start worker process", StringComparison.Ordinal)));
        return proxy;
    }
}

/// <summary>HAProxy in the foreground (<c>-db</c>), root throughout (no <c>user</c> line), config in a private directory.</summary>
internal sealed class HaproxyProxy : OutsideProxy
{
    /// <summary>
    /// The frontend and backend sections: the backend is <c>server s1 /path</c>. No abstract backends: HAProxy
    /// 2.6's <c>abns@</c> pads the name to the full sun_path, a different address from <c>@name</c>.
    /// For h2c the request URI is made absolute with scheme http: HAProxy sends <c>:scheme https</c> for a
    /// unix-socket frontend otherwise, which Kestrel refuses (PROTOCOL_ERROR, seen as 502).
    /// </summary>
    public static string Config(string backendPath, string frontSocket, bool http2)
    {
        var h2 = http2 ? "    http-request set-uri http://%[req.hdr(host)]%[pathq]\n" : string.Empty;
        var proto = http2 ? " proto h2" : string.Empty;
        return $$"""
            frontend fe
                bind {{frontSocket}}
                default_backend app
            backend app
            {{h2}}    server s1 {{backendPath}}{{proto}}

            """;
    }

    public static async Task<HaproxyProxy> StartAsync(InteropServer backend, bool http2)
    {
        var proxy = new HaproxyProxy();
        var config = proxy.Dir.Write("haproxy.cfg", $$"""
            global
                maxconn 512
            defaults
                mode http
                timeout connect 10s
                timeout client 60s
                timeout server 60s
                timeout tunnel 60s
            {{Config(backend.Address, proxy.Socket, http2)}}
            """);
        await proxy.RunAsync("haproxy", ["-db", "-f", config], process => process.WaitForSocketAsync(proxy.Socket));
        return proxy;
    }
}

/// <summary>
/// YARP 2.3 in process (its front on Kestrel's Sockets transport), taking our client in its documented ways:
/// yarp-factory: an <see cref="IForwarderHttpClientFactory"/> whose handler is our <see cref="UnixSocketHttpHandler"/>
/// on a fixed socket; yarp-url: the same handler with no fixed socket, the destination an <c>http+unix://</c> URL;
/// yarp-callback: <c>ConfigureHttpClient((context, handler) =&gt; handler.ConnectCallback = …)</c>;
/// yarp-h2c: the factory with HTTP/2 prior knowledge (<c>Version = 2.0</c>, <c>RequestVersionExact</c>).
/// </summary>
internal sealed class YarpProxy : IProxy
{
    private readonly PrivateDirectory _dir = new();
    private WebApplication? _app;

    public string Socket => _dir.File("front.sock");

    public static async Task<YarpProxy> StartAsync(string kind, InteropServer backend)
    {
        var proxy = new YarpProxy();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(proxy.Socket));

        var socketType = backend.IsSeqpacket ? SocketType.Seqpacket : SocketType.Stream;
        string destination;
        if (kind == "yarp-url")
        {
            // YARP parses destinations with Uri: the program opts in to the schemes (process-wide), as docs/proxies.md says.
            UnixSocketHttpHandler.RegisterUriSchemes();
            var scheme = backend.IsSeqpacket ? UnixSocketHttpHandler.UnixSeqpacketScheme : UnixSocketHttpHandler.UnixScheme;
            destination = $"{scheme}://{Uri.EscapeDataString(backend.Address)}/";
        }
        else
        {
            destination = "http://localhost/";
        }
        var cluster = new ClusterConfig
        {
            ClusterId = "app",
            Destinations = new Dictionary<string, DestinationConfig> { ["d1"] = new() { Address = destination } },
            HttpRequest = kind == "yarp-h2c"
                ? new ForwarderRequestConfig { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact }
                : null,
        };
        var route = new RouteConfig { RouteId = "all", ClusterId = "app", Match = new RouteMatch { Path = "{**catch-all}" } };
        var reverseProxy = builder.Services.AddReverseProxy().LoadFromMemory([route], [cluster]);
        if (kind == "yarp-callback")
        {
            reverseProxy.ConfigureHttpClient((_, handler) => handler.ConnectCallback = UnixSocketConnectCallback.Create(backend.Address, socketType));
        }
        else
        {
            var address = kind == "yarp-url" ? null : backend.Address;
            builder.Services.AddSingleton<IForwarderHttpClientFactory>(new UnixForwarderHttpClientFactory(address, socketType));
        }

        var app = builder.Build();
        app.MapReverseProxy();
        proxy._app = app;
        await app.StartAsync().DefaultTimeout();
        return proxy;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync().DefaultTimeout();
            await _app.DisposeAsync().AsTask().DefaultTimeout();
        }
        _dir.Dispose();
    }
}

/// <summary>
/// YARP's own factory (it configures the SocketsHttpHandler as YARP wants: no proxy, no redirects, no
/// decompression, no cookies), with our handler wrapped around that SocketsHttpHandler.
/// </summary>
internal sealed class UnixForwarderHttpClientFactory(string? address, SocketType socketType) : ForwarderHttpClientFactory
{
    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler)
        => new UnixSocketHttpHandler(new UnixSocketClientOptions { Address = address, SocketType = socketType }, (SocketsHttpHandler)handler);
}
