using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.Versioning;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Authentication;

using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Access;

/// <summary>What <c>GET /peer</c> reports about the caller.</summary>
public sealed record PeerReport(
    int Pid, uint Uid, uint Gid, uint[] SupplementaryGroups, int? PidFdPid, bool SameFeatureAsConnection,
    string? UserName, string[] GroupNames, string? Protocol, string? ClaimedProcessId = null, string[]? ClaimedGroupIds = null);

/// <summary>
/// A real Kestrel on the native transport, on a unix socket in a fresh 0755 directory, with the
/// UnixPeer scheme, a log sink and a request counter. <c>GET /peer</c> reports the peer as the
/// request sees it; each policy <c>name</c> guards a route <c>GET /policy/name</c>.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class SecureServer : IAsyncDisposable
{
    private readonly TempSocketDirectory _directory;
    private WebApplication? _app;
    private int _requests;

    private readonly Action<UnixNativeTransportOptions>? _transport;
    private readonly IReadOnlyDictionary<string, Action<AuthorizationPolicyBuilder>> _policies;
    private readonly HttpProtocols _protocols;
    private readonly bool _isSeqpacket;

    /// <summary>A server, not started yet: on a socket file in a fresh directory, or on an abstract address if <paramref name="isAbstract"/>; stream or seqpacket.</summary>
    public SecureServer(
        Action<UnixNativeTransportOptions>? transport = null,
        IReadOnlyDictionary<string, Action<AuthorizationPolicyBuilder>>? policies = null,
        HttpProtocols protocols = HttpProtocols.Http1,
        bool isAbstract = false,
        bool isSeqpacket = false)
    {
        _isSeqpacket = isSeqpacket;
        _directory = new TempSocketDirectory();
        _transport = transport;
        _policies = policies ?? new Dictionary<string, Action<AuthorizationPolicyBuilder>>();
        _protocols = protocols;
        SocketPath = _directory.PathOf("s.sock");
        Address = isAbstract ? "@un-" + Guid.NewGuid().ToString("N")[..12] : SocketPath;
    }

    /// <summary>The socket file, if the server listens on one.</summary>
    public string SocketPath { get; }

    /// <summary>What curl connects to: the socket path, or <c>@name</c>.</summary>
    public string Address { get; }

    public string Directory => _directory.Path;

    public LogSink Logs { get; } = new();

    /// <summary>Requests that reached the application.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The transport's connections as Kestrel's connection middleware saw them, by connection id.</summary>
    public ConcurrentDictionary<string, ConnectionContext> Connections { get; } = new();

    /// <summary>Completes when the transport has closed the connection's socket, by connection id.</summary>
    public ConcurrentDictionary<string, Task> ClosedConnections { get; } = new();

    /// <summary>Creates and starts a server; cleans up if it does not start.</summary>
    public static async Task<SecureServer> StartAsync(
        Action<UnixNativeTransportOptions>? transport = null,
        IReadOnlyDictionary<string, Action<AuthorizationPolicyBuilder>>? policies = null,
        HttpProtocols protocols = HttpProtocols.Http1,
        bool isAbstract = false,
        bool isSeqpacket = false)
    {
        var server = new SecureServer(transport, policies, protocols, isAbstract, isSeqpacket);
        try
        {
            await server.StartAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders().AddProvider(Logs).SetMinimumLevel(LogLevel.Debug);
        builder.WebHost.UseUnixNativeTransport(options => _transport?.Invoke(options));
        void Configure(ListenOptions listenOptions)
        {
            listenOptions.Protocols = _protocols;
            listenOptions.Use(next => async connection =>
            {
                Connections[connection.ConnectionId] = connection;
                var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                connection.ConnectionClosed.Register(() => closed.TrySetResult());
                ClosedConnections[connection.ConnectionId] = closed.Task;
                await next(connection);
            });
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (_isSeqpacket)
            {
                kestrel.ListenUnixSeqpacket(Address, Configure);
            }
            else if (Address.StartsWith('@'))
            {
                kestrel.ListenUnixAbstract(Address[1..], Configure);
            }
            else
            {
                kestrel.ListenUnixSocket(SocketPath, Configure);
            }
        });
        // Keys in memory: authentication pulls in data protection, which would otherwise write to $HOME.
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        builder.Services.AddAuthentication(UnixPeerDefaults.AuthenticationScheme).AddUnixPeer();
        var authorization = builder.Services.AddAuthorizationBuilder();
        foreach (var (name, policy) in _policies)
        {
            authorization.AddPolicy(name, policy);
        }

        var app = builder.Build();
        _app = app;
        app.Use((context, next) =>
        {
            Interlocked.Increment(ref _requests);
            return next(context);
        });
        app.MapGet("/peer", (HttpContext context) => Report(context));
        foreach (var name in _policies.Keys)
        {
            app.MapGet($"/policy/{name}", () => "allowed").RequireAuthorization(name);
        }
        await app.StartAsync().DefaultTimeout();
    }

    private IResult Report(HttpContext context)
    {
        var peer = context.Features.Get<IUnixPeerCredentialsFeature>();
        if (peer is null)
        {
            return Results.NotFound("no peer credentials feature");
        }
        int? pidFdPid = null;
        using (var pidFd = peer.OpenPidFd())
        {
            if (pidFd is not null)
            {
                // The kernel's own account of which process the pidfd names.
                var line = File.ReadLines($"/proc/self/fdinfo/{pidFd.DangerousGetHandle()}").First(l => l.StartsWith("Pid:", StringComparison.Ordinal));
                pidFdPid = int.Parse(line["Pid:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }
        var sameAsConnection = Connections.TryGetValue(context.Connection.Id, out var connection)
            && ReferenceEquals(connection.Features.Get<IUnixPeerCredentialsFeature>(), peer);
        return Results.Json(new PeerReport(
            peer.ProcessId, peer.UserId, peer.GroupId, peer.GetSupplementaryGroupIds().ToArray(), pidFdPid, sameAsConnection,
            context.User.FindFirst(UnixClaimTypes.UserName)?.Value,
            context.User.FindAll(UnixClaimTypes.GroupName).Select(c => c.Value).ToArray(),
            context.Request.Protocol,
            context.User.FindFirst(UnixClaimTypes.ProcessId)?.Value,
            context.User.FindAll(UnixClaimTypes.GroupId).Select(c => c.Value).ToArray()));
    }

    /// <summary>Stops the host: returns once every connection has been disposed (its socket closed).</summary>
    public Task StopAsync() => _app!.StopAsync().DefaultTimeout();

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync().DefaultTimeout();
            await _app.DisposeAsync();
        }
        _directory.Dispose();
    }
}

/// <summary>Collects log entries from every category.</summary>
internal sealed class LogSink : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyCollection<LogEntry> Entries => _entries;

    public IEnumerable<LogEntry> WithEventId(int id) => _entries.Where(e => e.EventId.Id == id && e.Category == "Transport.UnixNative");

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception),
                state as IReadOnlyList<KeyValuePair<string, object?>> ?? []));
    }
}

internal sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyList<KeyValuePair<string, object?>> State)
{
    public object? this[string name] => State.FirstOrDefault(p => p.Key == name).Value;
}
