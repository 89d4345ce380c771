using System.Runtime.Versioning;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Tests.Infrastructure;
using LogSink = Transport.UnixNative.Tests.Access.LogSink;

namespace Transport.UnixNative.Tests.SendFile;

/// <summary>How a <see cref="SendFileServer"/> listens and what it runs in front of its routes.</summary>
internal sealed record SendFileServerSpec
{
    public bool Seqpacket { get; init; }

    public HttpProtocols Protocols { get; init; } = HttpProtocols.Http1;

    public Action<UnixNativeTransportOptions>? Transport { get; init; }

    public Action<IServiceCollection>? Services { get; init; }

    /// <summary>Kestrel's options (limits such as MinResponseDataRate).</summary>
    public Action<KestrelServerOptions>? Kestrel { get; init; }

    /// <summary>Middleware that runs before the routes (compression, body wrappers).</summary>
    public Action<WebApplication>? Pipeline { get; init; }

    /// <summary>Connection middleware (<c>ListenOptions.Use</c>).</summary>
    public Func<ConnectionDelegate, ConnectionDelegate>? ConnectionMiddleware { get; init; }
}

/// <summary>
/// A real Kestrel on the native transport serving a fresh directory of files: the static file
/// middleware under <c>/files/</c> (as the sample's <c>--files</c>), <c>Results.File</c> under
/// <c>/result/</c>, <c>Response.SendFileAsync</c> without a Content-Length under <c>/chunked/</c>,
/// <c>/framed/{name}?offset=&amp;count=</c> (a prefix, the range, a suffix in one Content-Length
/// body) and <c>/cancelable/{name}</c> (canceled by <see cref="CancelFile"/>).
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class SendFileServer : IAsyncDisposable
{
    public const string Prefix = "<prefix>";
    public const string Suffix = "<suffix>";

    private readonly TempSocketDirectory _directory = new();
    private readonly SendFileServerSpec _spec;
    private WebApplication? _app;
    private CancellationTokenSource? _cancelable;

    private SendFileServer(SendFileServerSpec spec)
    {
        _spec = spec;
        Files = _directory.PathOf("files");
        Directory.CreateDirectory(Files);
        Address = new ServerAddress(_directory.PathOf("s.sock"), spec.Seqpacket);
    }

    public ServerAddress Address { get; }

    /// <summary>The directory served under <c>/files/</c>.</summary>
    public string Files { get; }

    public LogSink Logs { get; } = new();

    /// <summary>The file bytes each sendfile response sent (transport event 120).</summary>
    public long[] SentWithSendFile => Logs.WithEventId(120).Select(e => Convert.ToInt64(e["Bytes"], System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>
    /// Asserts the sendfile responses so far. The loop logs a send just after its last syscall, so the
    /// client may hold every byte a moment before the entry exists: wait for the count, then compare.
    /// </summary>
    public async Task AssertSentWithSendFileAsync(params long[] expected)
    {
        await Poll.UntilAsync(() => SentWithSendFile.Length >= expected.Length);
        Assert.Equal(expected, SentWithSendFile);
    }

    /// <summary>Why responses were copied instead (transport event 121).</summary>
    public string[] Fallbacks => Logs.WithEventId(121).Select(e => (string)e["Reason"]!).ToArray();

    /// <summary>Completes when <c>/cancelable/</c> saw its send canceled.</summary>
    public TaskCompletionSource CanceledSeen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<SendFileServer> StartAsync(SendFileServerSpec? spec = null)
    {
        var server = new SendFileServer(spec ?? new SendFileServerSpec());
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

    /// <summary>Writes <paramref name="length"/> random bytes to <paramref name="name"/>; returns the path.</summary>
    public string CreateFile(string name, int length)
    {
        var path = Path.Combine(Files, name);
        using var file = File.Create(path);
        var chunk = new byte[Math.Min(length, 1 << 20)];
        for (var left = length; left > 0; left -= chunk.Length)
        {
            RandomNumberGenerator.Fill(chunk);
            file.Write(chunk, 0, Math.Min(chunk.Length, left));
        }
        return path;
    }

    public HttpClient CreateClient() => UnixClient.CreateHttpClient(Address);

    public void CancelFile() => _cancelable!.Cancel();

    /// <summary>Open descriptors of this process that refer to <paramref name="path"/> (the server's file handles).</summary>
    public static int OpenHandlesTo(string path)
    {
        var count = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(path, StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (IOException)
            {
            }
        }
        return count;
    }

    private async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders().AddProvider(Logs).SetMinimumLevel(LogLevel.Debug);
        builder.WebHost.UseUnixNativeTransport(options => _spec.Transport?.Invoke(options));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            _spec.Kestrel?.Invoke(kestrel);
            void Configure(ListenOptions listen)
            {
                listen.Protocols = _spec.Protocols;
                if (_spec.ConnectionMiddleware is { } middleware)
                {
                    listen.Use(middleware);
                }
            }
            if (_spec.Seqpacket)
            {
                kestrel.ListenUnixSeqpacket(Address.Address, Configure);
            }
            else
            {
                kestrel.ListenUnixSocket(Address.Address, Configure);
            }
        });
        _spec.Services?.Invoke(builder.Services);

        var app = builder.Build();
        _app = app;
        _spec.Pipeline?.Invoke(app);
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new PhysicalFileProvider(Files),
            RequestPath = "/files",
            ServeUnknownFileTypes = true,
        });
        app.MapGet("/result/{name}", (string name) => Results.File(Path.Combine(Files, name), "application/octet-stream", enableRangeProcessing: true));
        app.MapGet("/chunked/{name}", (string name, HttpContext context) => context.Response.SendFileAsync(Path.Combine(Files, name)));
        app.MapGet("/framed/{name}", async (string name, long offset, long count, HttpContext context) =>
        {
            context.Response.ContentLength = Prefix.Length + count + Suffix.Length;
            await context.Response.WriteAsync(Prefix);
            await context.Response.SendFileAsync(Path.Combine(Files, name), offset, count);
            await context.Response.WriteAsync(Suffix);
        });
        app.MapGet("/cancelable/{name}", async (string name, HttpContext context) =>
        {
            var path = Path.Combine(Files, name);
            _cancelable = new CancellationTokenSource();
            context.Response.ContentLength = new FileInfo(path).Length;
            try
            {
                await context.Response.SendFileAsync(path, 0, null, _cancelable.Token);
            }
            catch (OperationCanceledException)
            {
                CanceledSeen.TrySetResult();
            }
        });
        await app.StartAsync().DefaultTimeout();
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync().DefaultTimeout();
            await _app.DisposeAsync();
        }
        _cancelable?.Dispose();
        _directory.Dispose();
    }
}
