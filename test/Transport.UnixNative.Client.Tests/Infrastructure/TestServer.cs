using System.Collections.Concurrent;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Transport.UnixNative.Client.Tests.Infrastructure;

public enum ServerTransport
{
    /// <summary>Transport.UnixNative (UseUnixNativeTransport).</summary>
    Native,

    /// <summary>Kestrel's own Sockets transport: the same app without UseUnixNativeTransport.</summary>
    Sockets,
}

/// <summary>
/// A real Kestrel in this process, on unix socket endpoints, serving a small app the tests can steer:
/// it reports who it is and what it saw, echoes bodies, and streams a response in steps the test releases.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string[] _files;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();

    private TestServer(WebApplication app, string name, string[] files)
    {
        _app = app;
        Name = name;
        _files = files;
    }

    public string Name { get; }


    /// <summary>The addresses Kestrel bound (e.g. http://127.0.0.1:port for a TCP endpoint on port 0).</summary>
    public IReadOnlyCollection<string> Addresses
        => _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];

    /// <param name="name">What GET /whoami reports first, to tell servers apart.</param>
    /// <param name="listen">Adds the endpoints (ListenUnixSocket, ListenUnixAbstract, ListenUnixSeqpacket…).</param>
    /// <param name="transport">Which transport serves the unix endpoints.</param>
    /// <param name="socketFiles">Files to delete afterwards (Kestrel's Sockets transport leaves them).</param>
    public static async Task<TestServer> StartAsync(string name, Action<KestrelServerOptions> listen, ServerTransport transport = ServerTransport.Native,
        params string[] socketFiles)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(TestServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        if (transport == ServerTransport.Native)
        {
            builder.WebHost.UseUnixNativeTransport();
        }
        builder.WebHost.ConfigureKestrel(listen);
        var app = builder.Build();
        var server = new TestServer(app, name, socketFiles);
        server.MapRoutes();
        await app.StartAsync().DefaultTimeout();
        return server;
    }

    /// <summary>Releases the second half of GET /stream?id=<paramref name="id"/>.</summary>
    public void Release(string id) => Gate(id).TrySetResult();

    private TaskCompletionSource Gate(string id) => _gates.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private void MapRoutes()
    {
        _app.MapGet("/plaintext", () => Results.Text("Hello, World!", "text/plain"));
        _app.MapGet("/redirect", () => Results.Redirect("/plaintext?from=redirect"));
        _app.MapGet("/redirect-to", (string url) => Results.Redirect(url));
        _app.MapGet("/whoami", (HttpContext context) =>
            Results.Text($"{Name} {context.Request.Host} {context.Request.Protocol} {context.Connection.Id}", "text/plain"));
        _app.MapPost("/echo", async (HttpContext context) =>
        {
            context.Response.ContentType = "application/octet-stream";
            if (context.Request.ContentLength is long length)
            {
                context.Response.ContentLength = length;
            }
            await context.Request.BodyReader.CopyToAsync(context.Response.BodyWriter, context.RequestAborted);
        });
        _app.MapGet("/bytes/{n:int}", async (int n, HttpContext context) =>
        {
            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = n;
            var block = new byte[64 * 1024];
            for (var sent = 0; sent < n; sent += block.Length)
            {
                var count = Math.Min(block.Length, n - sent);
                for (var i = 0; i < count; i++)
                {
                    block[i] = (byte)((sent + i) % 251);
                }
                await context.Response.Body.WriteAsync(block.AsMemory(0, count), context.RequestAborted);
            }
        });
        _app.MapGet("/stream", async (string id, HttpContext context) =>
        {
            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync("first\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await Gate(id).Task.WaitAsync(context.RequestAborted);
            await context.Response.WriteAsync("second\n", context.RequestAborted);
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().DefaultTimeout();
        await _app.DisposeAsync();
        foreach (var file in _files)
        {
            TestPaths.DeleteQuietly(file);
        }
    }
}
