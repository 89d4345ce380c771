using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>How a test host listens and which transport serves unix sockets.</summary>
public sealed record HostSpec
{
    /// <summary>The host's <c>urls</c> setting, as <c>--urls</c> would set it.</summary>
    public string? Urls { get; init; }

    /// <summary>Explicit Kestrel endpoints (they win over <see cref="Urls"/>, as in Kestrel).</summary>
    public Action<KestrelServerOptions>? Listen { get; init; }

    /// <summary>False removes the native transport, leaving Kestrel's Sockets transport (for comparison).</summary>
    public bool NativeTransport { get; init; } = true;

    public Action<UnixNativeTransportOptions>? TransportOptions { get; init; }

    /// <summary>
    /// A plain in-process WebApplication (only /plaintext plus the test routes) instead of the sample through
    /// WebApplicationFactory. Startup-failure tests need it: when the sample's entry point throws,
    /// WebApplicationFactory's DeferredHost can race the disposal of the failed host and report
    /// ObjectDisposedException instead of the server's exception.
    /// </summary>
    public bool PlainHost { get; init; }

    /// <summary>How long a stopping host waits for open connections before Kestrel aborts them.</summary>
    public TimeSpan? ShutdownTimeout { get; init; }

    public static HostSpec For(ServerAddress address, bool nativeTransport = true) => new()
    {
        NativeTransport = nativeTransport,
        Listen = address switch
        {
            { IsSeqpacket: true } => o => o.ListenUnixSeqpacket(address.Address),
            { IsAbstract: true } => o => o.ListenUnixAbstract(address.Address[1..]),
            _ => o => o.ListenUnixSocket(address.Address),
        },
    };
}

/// <summary>
/// A real Kestrel with test hooks: a connection middleware that records every connection and its end,
/// a header with the connection id on every response, and two test-only routes (/test/conn, /test/slow).
/// By default it runs the sample app (samples/WebOverUds) through WebApplicationFactory&lt;Program&gt;.UseKestrel;
/// <see cref="HostSpec.PlainHost"/> runs a plain in-process WebApplication instead (see there why).
/// </summary>
public sealed class SampleHost : IAsyncDisposable
{
    private readonly Func<Task> _stop;
    private bool _stopped;

    private SampleHost(HostParts parts, IServiceProvider services, Func<Task> stop)
    {
        Connections = parts.Tracker;
        Hooks = parts.Hooks;
        Logs = parts.Logs;
        Services = services;
        _stop = stop;
    }

    public ConnectionTracker Connections { get; }

    public TestHooks Hooks { get; }

    public LogCapture Logs { get; }

    public IServiceProvider Services { get; }

    public IReadOnlyCollection<string> Addresses
        => Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];

    /// <summary>Starts a host on <paramref name="spec"/>; a startup failure is thrown (and the host disposed).</summary>
    public static async Task<SampleHost> StartAsync(HostSpec spec)
    {
        var parts = new HostParts(spec);
        if (spec.PlainHost)
        {
            var builder = WebApplication.CreateSlimBuilder();
            if (spec.NativeTransport)
            {
                builder.WebHost.UseUnixNativeTransport();
            }
            builder.WebHost.ConfigureKestrel(parts.ConfigureKestrel);
            parts.Configure(builder.WebHost);
            var app = builder.Build();
            app.MapGet("/plaintext", () => Results.Text("Hello, World!", "text/plain"));
            try
            {
                await app.StartAsync().DefaultTimeout();
            }
            catch
            {
                await app.DisposeAsync().AsTask().DefaultTimeout();
                throw;
            }
            return new SampleHost(parts, app.Services, async () =>
            {
                await app.StopAsync().DefaultTimeout();
                await app.DisposeAsync().AsTask().DefaultTimeout();
            });
        }

        var factory = new SampleAppFactory(parts);
        try
        {
            // StartServer blocks while Kestrel binds; keep the test thread free and bounded.
            await Task.Run(factory.StartServer).DefaultTimeout();
            return new SampleHost(parts, factory.Services, () => factory.DisposeAsync().AsTask());
        }
        catch
        {
            await factory.DisposeAsync().AsTask().DefaultTimeout();
            throw;
        }
    }

    public static Task<SampleHost> StartAsync(ServerAddress address, bool nativeTransport = true)
        => StartAsync(HostSpec.For(address, nativeTransport));

    /// <summary>Stops the host gracefully (in-flight requests may finish) and disposes it.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        await _stop().DefaultTimeout();
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>What both kinds of host share: Kestrel options, logging, services and the test hooks.</summary>
    private sealed class HostParts(HostSpec spec)
    {
        public HostSpec Spec { get; } = spec;

        public ConnectionTracker Tracker { get; } = new();

        public TestHooks Hooks { get; } = new();

        public LogCapture Logs { get; } = new();

        public void ConfigureKestrel(KestrelServerOptions options)
        {
            // Defaults first: they apply to the endpoints listed after them and to those from urls.
            options.ConfigureEndpointDefaults(listen => listen.Use(Tracker.Middleware));
            // Kestrel refuses bodies over 30 MB by default (413); the suite echoes 64 MiB.
            options.Limits.MaxRequestBodySize = 256L * 1024 * 1024;
            // Far beyond every test's timeout: a connection that only ends by Kestrel's keep-alive
            // timer (a lost FIN) fails its test instead of passing slowly.
            options.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(30);
            Spec.Listen?.Invoke(options);
        }

        public void Configure(IWebHostBuilder builder)
        {
            // Always set urls, so the sample's default socket path (shared by every run) is never bound.
            builder.UseSetting(WebHostDefaults.ServerUrlsKey, Spec.Urls ?? "http://unix:/nonexistent-dir-ignored/x.sock");
            builder.ConfigureLogging(logging =>
            {
                logging.ClearProviders();
                logging.AddProvider(Logs);
                logging.SetMinimumLevel(LogLevel.Warning);
                logging.AddFilter("Transport.UnixNative", LogLevel.Debug);
            });
            builder.ConfigureServices(services =>
            {
                services.AddSingleton(Tracker);
                services.AddSingleton(Hooks);
                services.AddSingleton<IStartupFilter>(new TestEndpointsFilter(Tracker, Hooks));
                if (!Spec.NativeTransport)
                {
                    var native = services.Where(d => d.ImplementationType == typeof(UnixNativeTransportFactory)).ToList();
                    foreach (var descriptor in native)
                    {
                        services.Remove(descriptor);
                    }
                }
                if (Spec.ShutdownTimeout is { } shutdownTimeout)
                {
                    services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout);
                }
                if (Spec.TransportOptions is { } configure)
                {
                    services.Configure(configure);
                }
            });
        }
    }

    private sealed class SampleAppFactory : WebApplicationFactory<Program>
    {
        private readonly HostParts _parts;

        public SampleAppFactory(HostParts parts)
        {
            _parts = parts;
            UseKestrel(parts.ConfigureKestrel);
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder) => _parts.Configure(builder);
    }
}

/// <summary>Test-controlled state the test routes read.</summary>
public sealed class TestHooks
{
    /// <summary>/test/slow sends its first part, then waits for this before the rest.</summary>
    public TaskCompletionSource ReleaseSlow { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed once /test/slow has flushed its first part.</summary>
    public TaskCompletionSource SlowStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly ConcurrentDictionary<string, AbortGate> _abortGates = new();

    private readonly ConcurrentDictionary<string, WaitCounts> _waits = new();

    /// <summary>How many requests with <c>?key=K</c> (any route) started, and for how many RequestAborted fired.</summary>
    public WaitCounts WaitsFor(string key) => _waits.GetOrAdd(key, _ => new WaitCounts());

    public sealed class WaitCounts
    {
        private readonly TaskCompletionSource _allAborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _started;
        private int _aborted;
        private int _expected = int.MaxValue;

        public int Started => Volatile.Read(ref _started);

        public int Aborted => Volatile.Read(ref _aborted);

        /// <summary>
        /// Set before the requests: a request that ends with RequestAborted not yet fired is held (after
        /// Kestrel checked it, in an OnCompleted callback) until it fires, so a late abort still counts.
        /// </summary>
        public bool HoldUntilAborted { get; set; }

        /// <summary>Completes once RequestAborted fired for <paramref name="count"/> requests.</summary>
        public Task WhenAborted(int count)
        {
            Volatile.Write(ref _expected, count);
            if (Aborted >= count)
            {
                _allAborted.TrySetResult();
            }
            return _allAborted.Task;
        }

        internal void OnStarted() => Interlocked.Increment(ref _started);

        internal void OnAborted()
        {
            if (Interlocked.Increment(ref _aborted) >= Volatile.Read(ref _expected))
            {
                _allAborted.TrySetResult();
            }
        }
    }

    /// <summary>The gate of one /test/abort-blocked?key=K request.</summary>
    public AbortGate AbortGateFor(string key) => _abortGates.GetOrAdd(key, _ => new AbortGate());

    public sealed class AbortGate
    {
        /// <summary>The response write has started (and cannot finish while the client does not read).</summary>
        public TaskCompletionSource<string> WriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Set by the test: abort the connection now.</summary>
        public TaskCompletionSource AbortNow { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>One accepted connection as the connection middleware saw it.</summary>
public sealed class TrackedConnection(string id, EndPoint? local, EndPoint? remote, string transportType)
{
    public string Id { get; } = id;
    public EndPoint? LocalEndPoint { get; } = local;
    public EndPoint? RemoteEndPoint { get; } = remote;
    public string TransportType { get; } = transportType;

    /// <summary>Kestrel finished with the connection (its middleware returned).</summary>
    public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The transport fired ConnectionClosed (the socket is closed).</summary>
    public TaskCompletionSource ClosedFired { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Records every connection: which transport made it, its endpoints, when it ended and when ConnectionClosed fired.</summary>
public sealed class ConnectionTracker
{
    private readonly ConcurrentDictionary<string, TrackedConnection> _connections = new();
    private int _active;

    public int Active => Volatile.Read(ref _active);

    public int Count => _connections.Count;

    public IReadOnlyCollection<TrackedConnection> All => _connections.Values.ToArray();

    public TrackedConnection Get(string id)
        => _connections.TryGetValue(id, out var connection) ? connection : throw new KeyNotFoundException($"No connection '{id}' was seen.");

    public ConnectionDelegate Middleware(ConnectionDelegate next) => async context =>
    {
        var tracked = new TrackedConnection(context.ConnectionId, context.LocalEndPoint, context.RemoteEndPoint, context.GetType().FullName ?? "");
        _connections[context.ConnectionId] = tracked;
        Interlocked.Increment(ref _active);
        // Not disposed: ConnectionClosed fires after this middleware returns, when the transport closes the socket.
        context.ConnectionClosed.Register(static state => ((TrackedConnection)state!).ClosedFired.TrySetResult(), tracked);
        try
        {
            await next(context);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
            tracked.Ended.TrySetResult();
        }
    };
}

/// <summary>Adds, in front of the sample's own pipeline, the connection-id header and the test routes.</summary>
internal sealed class TestEndpointsFilter(ConnectionTracker tracker, TestHooks hooks) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            // What logging and forwarding middleware do on every request: it must not throw on unix sockets.
            var remote = context.Connection.RemoteIpAddress?.ToString() ?? "none";
            var id = context.Connection.Id;
            context.Response.Headers["X-Connection-Id"] = id;
            context.Response.Headers["X-Remote-Ip"] = remote;
            if (context.Request.Query["key"].ToString() is { Length: > 0 } waitKey)
            {
                // Counts around any route (the sample's /wait, /echo, …): did RequestAborted fire?
                var counts = hooks.WaitsFor(waitKey);
                counts.OnStarted();
                var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                void OnAborted()
                {
                    if (aborted.TrySetResult())
                    {
                        counts.OnAborted();
                    }
                }
                var registration = context.RequestAborted.Register(OnAborted);
                if (counts.HoldUntilAborted)
                {
                    // Runs after Kestrel judged the response (a short body is an application error unless the
                    // connection was aborted by then), and keeps the request's token alive until it fires.
                    context.Response.OnCompleted(async () =>
                    {
                        try
                        {
                            await aborted.Task.WaitAsync(TimeoutExtensions.DefaultTimeoutValue);
                        }
                        catch (TimeoutException)
                        {
                            // Never fired: the test sees the count short.
                        }
                        registration.Dispose();
                    });
                }
                try
                {
                    await RouteAsync(context, nextMiddleware);
                }
                finally
                {
                    // A handler that RequestAborted ended may return before this registration's callback
                    // ran (callbacks run last-registered first).
                    if (context.RequestAborted.IsCancellationRequested)
                    {
                        OnAborted();
                    }
                    if (!counts.HoldUntilAborted)
                    {
                        registration.Dispose();
                    }
                }
                return;
            }
            await RouteAsync(context, nextMiddleware);
        });
        next(app);
    };

    /// <summary>The test routes, else the sample's own pipeline.</summary>
    private async Task RouteAsync(HttpContext context, RequestDelegate nextMiddleware)
    {
        var id = context.Connection.Id;
        switch (context.Request.Path.Value)
        {
            case "/test/conn":
                await WriteConnectionInfo(context);
                return;
            case "/test/abort-blocked":
                // Writes 8 MiB at once to a client that does not read, then aborts when the test says so:
                // the transport is then blocked waiting for the socket to become writable.
                var gate = hooks.AbortGateFor(context.Request.Query["key"].ToString());
                context.Response.ContentLength = 64L * 1024 * 1024;
                var data = new byte[8 * 1024 * 1024];
                data.AsSpan().Fill((byte)'x');
                var write = context.Response.BodyWriter.WriteAsync(data).AsTask();
                gate.WriteStarted.TrySetResult(id);
                await Task.WhenAny(write, gate.AbortNow.Task);
                context.Abort();
                return;
            case "/test/length-loop":
                // A plain handler: a Content-Length body written 64 KiB at a time, flush results ignored
                // (no abort of its own when the client is gone: the transport must get that right).
                var total = long.Parse(context.Request.Query["n"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
                context.Response.ContentLength = total;
                for (var left = total; left > 0;)
                {
                    var chunk = (int)Math.Min(left, 64 * 1024);
                    context.Response.BodyWriter.GetSpan(chunk)[..chunk].Fill((byte)'x');
                    context.Response.BodyWriter.Advance(chunk);
                    left -= chunk;
                    await context.Response.BodyWriter.FlushAsync();
                }
                return;
            case "/test/one-write":
                // One big write and one flush: the transport gets megabytes at once to gather into
                // sendmsg calls (and, for seqpacket, to cut into packets a peer can read whole).
                var size = int.Parse(context.Request.Query["n"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
                var payload = new byte[size];
                for (var i = 0; i < size; i++)
                {
                    payload[i] = (byte)(i * 7 + (i >> 12));
                }
                context.Response.ContentLength = size;
                await context.Response.BodyWriter.WriteAsync(payload, context.RequestAborted);
                return;
            case "/test/slow":
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync("first\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                hooks.SlowStarted.TrySetResult();
                await hooks.ReleaseSlow.Task.WaitAsync(context.RequestAborted);
                await context.Response.WriteAsync("second\n", context.RequestAborted);
                return;
        }
        await nextMiddleware(context);
    }

    private async Task WriteConnectionInfo(HttpContext context)
    {
        var http = context.Features.Get<IHttpConnectionFeature>();
        var tracked = tracker.Get(context.Connection.Id);
        var lines = new[]
        {
            $"feature={(http is null ? "null" : "present")}",
            $"id={http?.ConnectionId}",
            $"remoteIp={http?.RemoteIpAddress?.ToString() ?? "null"}",
            $"localIp={http?.LocalIpAddress?.ToString() ?? "null"}",
            $"remotePort={http?.RemotePort}",
            $"localPort={http?.LocalPort}",
            $"local={Describe(tracked.LocalEndPoint)}",
            $"remote={Describe(tracked.RemoteEndPoint)}",
            $"transport={tracked.TransportType}",
        };
        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(string.Join('\n', lines) + "\n");
    }

    private static string Describe(EndPoint? endPoint) => endPoint is null ? "null" : $"{endPoint.GetType().Name}:{endPoint}";
}

/// <summary>Keeps log entries so tests can check what the transport said (event ids are fixed).</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception)> _entries = new();

    public IReadOnlyCollection<(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception)> Entries => _entries.ToArray();

    public bool Contains(string eventName) => _entries.Any(e => e.EventId.Name == eventName);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner._entries.Enqueue((category, logLevel, eventId, formatter(state, exception), exception));
    }
}
