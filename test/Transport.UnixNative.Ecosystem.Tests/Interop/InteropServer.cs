using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Client;

namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>Which server the outside program talks to: ours on each address kind, or Kestrel's Sockets transport as the control.</summary>
public enum Backend
{
    /// <summary>Our transport on a socket path.</summary>
    Ours,

    /// <summary>Our transport on an abstract name.</summary>
    OursAbstract,

    /// <summary>Our transport, SOCK_SEQPACKET on a path.</summary>
    OursSeqpacket,

    /// <summary>Kestrel's own Sockets transport on a path: the control.</summary>
    Sockets,
}

/// <summary>
/// A real Kestrel (in process) for the interop checks, with the routes every outside program uses:
/// <c>/plaintext</c>, <c>/conn</c> (the connection's id, to see pooling), <c>/proto</c>, <c>POST /sha256</c>
/// (hashes the body server-side: a big echo through a buffering proxy can stall on any backend),
/// <c>/sse?key=K</c> (one event, then waits until <c>/release?key=K</c> or <see cref="Release"/>, then a
/// second: proves incremental delivery without a sleep), <c>/ws?key=K</c> (WebSocket echo; how the handler
/// ended is reported through <see cref="WebSocketOutcome"/>) and <c>/upgrade</c> (a raw HTTP/1.1 upgrade that echoes).
/// </summary>
internal sealed class InteropServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _releases = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<string>> _outcomes = new();

    private InteropServer(WebApplication app, Backend backend, string address)
    {
        _app = app;
        Backend = backend;
        Address = address;
    }

    public Backend Backend { get; }

    /// <summary>A path, or <c>@name</c>.</summary>
    public string Address { get; }

    public bool IsSeqpacket => Backend == Backend.OursSeqpacket;

    public static async Task<InteropServer> StartAsync(Backend backend, bool http2 = false)
    {
        var address = backend == Backend.OursAbstract ? "@" + TestPaths.AbstractName() : TestPaths.SocketPath();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (backend != Backend.Sockets)
        {
            builder.WebHost.UseUnixNativeTransport();
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = 64 << 20;
            Action<ListenOptions> listen = o => o.Protocols = http2 ? HttpProtocols.Http2 : HttpProtocols.Http1;
            switch (backend)
            {
                case Backend.OursAbstract:
                    kestrel.ListenUnixAbstract(address[1..], listen);
                    break;
                case Backend.OursSeqpacket:
                    kestrel.ListenUnixSeqpacket(address, listen);
                    break;
                default:
                    // Ours and Kestrel's Sockets transport alike: the same call, the transport decides.
                    kestrel.ListenUnixSocket(address, listen);
                    break;
            }
        });
        var app = builder.Build();
        var server = new InteropServer(app, backend, address);
        server.MapRoutes();
        await app.StartAsync().DefaultTimeout();
        return server;
    }

    /// <summary>Lets <c>/sse?key=K</c> send its second event.</summary>
    public void Release(string key) => _releases.GetOrAdd(key, NewSignal).TrySetResult();

    /// <summary>How the <c>/ws?key=K</c> handler ended: "closed" after a close handshake, else what it observed.</summary>
    public Task<string> WebSocketOutcome(string key) => _outcomes.GetOrAdd(key, _ => NewOutcome()).Task;

    /// <summary>A client for this server's socket (our handler), for checks that need one.</summary>
    public HttpClient CreateClient(bool http2 = false)
        => new(UnixSocketHttpHandler.Create(Address, o =>
        {
            o.SocketType = IsSeqpacket ? SocketType.Seqpacket : SocketType.Stream;
            o.Http2PriorKnowledge = http2;
        }))
        {
            BaseAddress = new Uri("http://localhost"),
        };

    /// <summary>
    /// Server-side sockets still open on this address (connected entries of /proc/net/unix, which the kernel
    /// drops only when the last descriptor of a socket is closed): how a test sees descriptors released.
    /// </summary>
    public int OpenServerConnections() => UnixSocketTable.Connected(Address);

    private static TaskCompletionSource NewSignal(string _) => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static TaskCompletionSource<string> NewOutcome() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void MapRoutes()
    {
        _app.UseWebSockets();
        _app.MapGet("/plaintext", () => Results.Text("Hello, World!"));
        _app.MapGet("/conn", (HttpContext context) => context.Connection.Id);
        _app.MapGet("/proto", (HttpContext context) => context.Request.Protocol);
        _app.MapPost("/sha256", async (HttpContext context) =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            long length = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                length += read;
            }
            return $"{length} {Convert.ToHexStringLower(hash.GetHashAndReset())}";
        });
        _app.MapMethods("/release", ["GET", "POST"], (string key) =>
        {
            Release(key);
            return "released";
        });
        _app.MapGet("/sse", async (HttpContext context, string key) =>
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            await context.Response.WriteAsync("data: one\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await _releases.GetOrAdd(key, NewSignal).Task.WaitAsync(context.RequestAborted);
            await context.Response.WriteAsync("data: two\n\n", context.RequestAborted);
        });
        _app.Map("/ws", async (HttpContext context, string key) =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            var outcome = _outcomes.GetOrAdd(key, _ => NewOutcome());
            try
            {
                using var socket = await context.WebSockets.AcceptWebSocketAsync();
                var buffer = new byte[64 * 1024];
                while (true)
                {
                    var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
                    if (received.MessageType == WebSocketMessageType.Close)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", context.RequestAborted);
                        outcome.TrySetResult("closed");
                        return;
                    }
                    await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted);
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ConnectionAbortedException)
            {
                // A client that vanished without a close frame: the handler must learn it and end.
                outcome.TrySetResult($"ended by {e.GetType().Name}, RequestAborted={context.RequestAborted.IsCancellationRequested}");
            }
        });
        _app.MapGet("/upgrade", async (HttpContext context) =>
        {
            var upgrade = context.Features.Get<IHttpUpgradeFeature>();
            if (upgrade is not { IsUpgradableRequest: true })
            {
                context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
                return;
            }
            context.Response.Headers.Upgrade = "echo";
            await using var stream = await upgrade.UpgradeAsync();
            // The echo protocol: bytes come back until the client ends its side.
            await stream.CopyToAsync(stream, context.RequestAborted);
        });
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var release in _releases.Values)
        {
            release.TrySetResult();
        }
        await _app.StopAsync().DefaultTimeout();
        await _app.DisposeAsync().AsTask().DefaultTimeout();
        if (!Address.StartsWith('@'))
        {
            TestPaths.DeleteQuietly(Address);
        }
    }
}

/// <summary>Reads /proc/net/unix: every unix socket in this network namespace, with its bound address.</summary>
internal static class UnixSocketTable
{
    /// <summary>Connected sockets (state 03) bound to <paramref name="address"/>: accepted server-side ends.</summary>
    public static int Connected(string address)
    {
        var count = 0;
        foreach (var line in File.ReadLines("/proc/net/unix").Skip(1))
        {
            // Num RefCount Protocol Flags Type St Inode [Path]
            var fields = line.Split(' ', 8, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 8 && fields[5] == "03" && fields[7] == address)
            {
                count++;
            }
        }
        return count;
    }
}
