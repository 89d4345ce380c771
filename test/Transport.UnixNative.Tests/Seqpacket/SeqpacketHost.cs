using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Transport.UnixNative;

namespace Transport.UnixNative.Tests.Seqpacket;

/// <summary>A real Kestrel on seqpacket endpoints: HTTP on one socket, whole messages on another.</summary>
internal sealed class SeqpacketHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SeqpacketHost(WebApplication app, string httpPath, string messagesAddress, LogCollector logs)
    {
        _app = app;
        HttpPath = httpPath;
        MessagesAddress = messagesAddress;
        Logs = logs;
    }

    public string HttpPath { get; }

    /// <summary>An abstract address (<c>@name</c>) whose connections run <see cref="MessageEchoHandler"/>.</summary>
    public string MessagesAddress { get; }

    public LogCollector Logs { get; }

    /// <param name="configure">Transport options.</param>
    /// <param name="onHttpConnection">Runs for every accepted HTTP connection before Kestrel serves it.</param>
    public static async Task<SeqpacketHost> StartAsync(Action<UnixNativeTransportOptions>? configure = null, Action<ConnectionContext>? onHttpConnection = null)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var httpPath = $"/tmp/sq-{id}.sock";
        var messages = $"@sq-msg-{id}";
        var logs = new LogCollector();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.WebHost.UseUnixNativeTransport(configure ?? (_ => { }));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.ListenUnixSeqpacket(httpPath, l => l.Use(next => connection =>
            {
                onHttpConnection?.Invoke(connection);
                return next(connection);
            }));
            k.ListenUnixSeqpacketMessages(messages, l => l.UseConnectionHandler<MessageEchoHandler>());
        });
        var app = builder.Build();
        app.MapGet("/plaintext", () => Results.Text("Hello, World!"));
        app.MapGet("/bytes/{n:int}", (int n) => Results.Bytes(new byte[n], "application/octet-stream"));
        app.MapPost("/echo", (HttpContext context) =>
        {
            context.Response.ContentLength = context.Request.ContentLength;
            return context.Request.BodyReader.CopyToAsync(context.Response.BodyWriter);
        });
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return new SeqpacketHost(app, httpPath, messages, logs);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await _app.DisposeAsync();
    }
}

/// <summary>Replies to each message with "&lt;length&gt;:&lt;first byte&gt;" and, on "big:N", with an N-byte message.</summary>
internal sealed class MessageEchoHandler : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var messages = connection.Features.Get<IUnixMessageFeature>()!;
        while (await messages.ReceiveAsync(connection.ConnectionClosed) is { } message)
        {
            if (message.Length == 0)
            {
                await messages.SendAsync("0:"u8.ToArray(), connection.ConnectionClosed);
                continue;
            }
            var text = message.Length < 64 ? Encoding.ASCII.GetString(message.Span) : "";
            if (text.StartsWith("big:", StringComparison.Ordinal))
            {
                var size = int.Parse(text[4..]);
                try
                {
                    await messages.SendAsync(new byte[size], connection.ConnectionClosed);
                }
                catch (ArgumentException ex)
                {
                    await messages.SendAsync(Encoding.UTF8.GetBytes("refused: " + ex.Message), connection.ConnectionClosed);
                }
                continue;
            }
            await messages.SendAsync(Encoding.ASCII.GetBytes($"{message.Length}:{(char)message.Span[0]}"), connection.ConnectionClosed);
        }
    }
}

/// <summary>Keeps every log line, so a test can assert that an error was logged.</summary>
internal sealed class LogCollector : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<(LogLevel Level, EventId Id, string Message)> _entries = new();

    public IReadOnlyCollection<(LogLevel Level, EventId Id, string Message)> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCollector owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner._entries.Enqueue((logLevel, eventId, formatter(state, exception)));
    }
}
