using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Client;

namespace Transport.UnixNative.Ecosystem.Tests.Metrics;

/// <summary>A real Kestrel on our transport, listening on one address, with a few routes for the metrics tests.</summary>
internal sealed class MetricsHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MetricsHost(WebApplication app, string address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The socket: a path, <c>@name</c>, or for seqpacket either of them.</summary>
    public string Address { get; }

    public bool IsSeqpacket { get; private init; }

    public IMeterFactory MeterFactory => _app.Services.GetRequiredService<IMeterFactory>();

    /// <summary>kind: path, abstract, seqpacket (on a path).</summary>
    public static string NewAddress(string kind) => kind == "abstract" ? "@" + TestPaths.AbstractName() : TestPaths.SocketPath();

    /// <summary>
    /// Builds the host; <paramref name="beforeStart"/> runs with its services before Kestrel binds, so
    /// collectors made there see every measurement.
    /// </summary>
    public static async Task<MetricsHost> StartAsync(string kind, Action<IServiceProvider>? beforeStart = null, Action<UnixNativeTransportOptions>? options = null)
    {
        var address = NewAddress(kind);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUnixNativeTransport(options ?? (static _ => { }));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (kind == "seqpacket")
            {
                kestrel.ListenUnixSeqpacket(address);
            }
            else if (kind == "abstract")
            {
                kestrel.ListenUnixAbstract(address[1..]);
            }
            else
            {
                kestrel.ListenUnixSocket(address);
            }
        });
        var app = builder.Build();
        app.MapGet("/plaintext", () => Results.Text("Hello, World!"));
        app.MapPost("/echo", (HttpContext context) => context.Request.BodyReader.CopyToAsync(context.Response.BodyWriter, context.RequestAborted));
        app.MapGet("/bytes/{n:int}", (int n) => Results.Bytes(new byte[n], "application/octet-stream"));
        beforeStart?.Invoke(app.Services);
        await app.StartAsync().DefaultTimeout();
        return new MetricsHost(app, address) { IsSeqpacket = kind == "seqpacket" };
    }

    /// <summary>A client whose every request goes to this host's socket; disposing it closes its connections.</summary>
    public HttpClient CreateClient()
        => new(UnixSocketHttpHandler.Create(Address, o => o.SocketType = IsSeqpacket ? SocketType.Seqpacket : SocketType.Stream))
        {
            BaseAddress = new Uri("http://localhost"),
        };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().DefaultTimeout();
        await _app.DisposeAsync().AsTask().DefaultTimeout();
        if (!Address.StartsWith('@'))
        {
            TestPaths.DeleteQuietly(Address);
        }
    }
}
