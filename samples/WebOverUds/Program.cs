// WebOverUds: a small web API served over a Unix domain socket by Transport.UnixNative.
//
//   dotnet run --project samples/WebOverUds                      # unix socket under $XDG_RUNTIME_DIR or /tmp
//   dotnet run --project samples/WebOverUds -- --urls "http://unix:@webover;http://localhost:5080"
//   dotnet run --project samples/WebOverUds -- --transport sockets   # Kestrel's built-in Sockets transport
//   dotnet run --project samples/WebOverUds -- --seqpacket /tmp/webover.seq   # adds a SOCK_SEQPACKET endpoint
//   dotnet run --project samples/WebOverUds -- --socket-mode 0660 --socket-group adm   # then: curl --unix-socket … http://localhost/whoami
//   dotnet run --project samples/WebOverUds -- --files ./artifacts   # GET /files/… (sendfile on unix stream sockets)
//   dotnet run --project samples/WebOverUds -- --handover /tmp/webover.handover   # run it again with the same switch: the new one takes over
//   systemd-socket-activate -l /tmp/x.sock dotnet WebOverUds.dll   # serves exactly the activated sockets
//   dotnet run --project samples/WebOverUds -- client http+unix://%2Ftmp%2Fwebover-uds.sock/json   # client mode
//   dotnet run --project samples/WebOverUds -- client --send-fd /etc/hosts http+unix://%2Ftmp%2Fwebover-uds.sock/files/sha256
//       (the server hashes regular files only, up to --max-file-size bytes, default 4 GiB)
//   dotnet run --project samples/WebOverUds -- pair       # a child process serves a socket pair's end; HttpClient on the other
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.FileProviders;
using WebOverUds;

if (args is ["client", ..])
{
    return await ClientMode.RunAsync(args[1..]);
}
if (args is ["pair", ..])
{
    return await PairMode.RunAsync(args[1..]);
}

SampleOptions options;
try
{
    options = SampleOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(StartupErrors.Describe(e));
    return 2;
}

var builder = WebApplication.CreateBuilder(options.HostArgs);
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore.Routing", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore.Http.Result", LogLevel.Warning);
StartupErrors.SilenceHostFailureLog(builder.Logging);

if (options.Transport == "native")
{
    builder.WebHost.UseUnixNativeTransport(transport =>
    {
        PeerSecurity.ConfigureTransport(options, transport);
        transport.HandoverSocketPath = options.HandoverPath;
        transport.UseSystemdFileDescriptorStore = options.FdStore;
    });
}

if (options.ListenFd is int listenFd)
{
    // One inherited, already-connected socket: no file, no name. When it closes, the sample is done.
    PairMode.ServeInheritedSocket(builder, listenFd);
}
else
{
    var urls = builder.Configuration[WebHostDefaults.ServerUrlsKey];
    if (string.IsNullOrEmpty(urls))
    {
        urls = $"http://unix:{SampleOptions.DefaultSocketPath()}";
    }
    // --seqpacket /path or @name adds a SOCK_SEQPACKET endpoint (a URL form our transport understands).
    urls = string.Join(';', options.SeqpacketAddresses.Select(a => $"http://unix-seqpacket:{a}").Prepend(urls));
    builder.WebHost.UseUrls(urls);
    if (options.Transport == "native")
    {
        // POST /files/sha256 takes a descriptor: the sample's unix endpoints opt in (the transport's default is none).
        var unixAddresses = SampleOptions.UnixAddresses(urls);
        builder.Services.Configure<Transport.UnixNative.UnixNativeTransportOptions>(o => o.ReceiveDescriptorsOn.UnionWith(unixAddresses));
    }
}

builder.AddPeerSecurity(options);

// --Kestrel:Limits:KeepAliveTimeout=00:00:05 and the like (Kestrel itself does not bind its Limits).
builder.WebHost.ConfigureKestrel(kestrel => KestrelLimitsConfiguration.Bind(builder.Configuration, kestrel.Limits));

var app = builder.Build();
var started = Process.GetCurrentProcess().StartTime.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture);

if (options.FilesDirectory is { } files)
{
    // Any file, whatever its extension (artifacts, weights, layers): ETags, Range, HEAD, 304 and 404 as usual.
    app.UseStaticFiles(new StaticFileOptions
    {
        FileProvider = new PhysicalFileProvider(files),
        RequestPath = "/files",
        ServeUnknownFileTypes = true,
        DefaultContentType = "application/octet-stream",
    });
}

app.MapGet("/", () => "WebOverUds: an ASP.NET Core app served over a Unix domain socket by Transport.UnixNative.\n");
app.MapGet("/plaintext", () => Results.Text("Hello, World!", "text/plain"));
app.MapGet("/json", () => Results.Json(new Greeting("Hello, World!"), SampleJsonContext.Default.Greeting));
app.MapPost("/echo", async (HttpContext context) =>
{
    // An echo streams: it holds no more than the pipes do, so any body size is fine.
    if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
    {
        limit.MaxRequestBodySize = null;
    }
    context.Response.ContentType = context.Request.ContentType ?? "application/octet-stream";
    if (context.Request.ContentLength is long length)
    {
        context.Response.ContentLength = length;
    }
    // Stream the body back as it arrives: nothing is buffered beyond the pipes.
    await EchoAsync(context.Request.BodyReader, context.Response.BodyWriter, context.RequestAborted);
});
app.MapGet("/bytes/{n:long}", async (long n, HttpContext context) =>
{
    if (n < 0)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return;
    }
    context.Response.ContentType = "application/octet-stream";
    context.Response.ContentLength = n;
    var writer = context.Response.BodyWriter;
    while (n > 0)
    {
        var chunk = (int)Math.Min(n, 64 * 1024);
        var span = writer.GetSpan(chunk)[..chunk];
        span.Fill((byte)'x');
        writer.Advance(chunk);
        n -= chunk;
        var flush = await writer.FlushAsync(context.RequestAborted);
        if (flush.IsCanceled || flush.IsCompleted)
        {
            // The client left mid-body: end the request as aborted, or Kestrel reports the short
            // Content-Length as the application's error.
            context.Abort();
            return;
        }
    }
});
app.MapGet("/process", () => Results.Json(new ProcessInfo(Environment.ProcessId, started), SampleJsonContext.Default.ProcessInfo));
// Holds the request open without writing: until the time is up or the client leaves (RequestAborted).
app.MapGet("/wait/{seconds}", async (string seconds, HttpContext context) =>
{
    if (!double.TryParse(seconds, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
        || !double.IsFinite(value) || value < 0 || value > MaxWaitSeconds)
    {
        return Results.BadRequest($"seconds must be a number from 0 to {MaxWaitSeconds}\n");
    }
    try
    {
        await Task.Delay(TimeSpan.FromSeconds(value), context.RequestAborted);
    }
    catch (OperationCanceledException)
    {
        // The client left; the answer goes nowhere, but the handler ends now.
    }
    return Results.Text("done", "text/plain");
});
app.MapPeerSecurityRoutes(); // GET /whoami, GET /admin
// The descriptor that came with the request, read with the caller's rights: a regular file of at most --max-file-size bytes.
var fileLogger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("WebOverUds.Files");
app.MapPost("/files/sha256", (Delegate)((HttpContext context) => FileRoutes.Sha256(context, options.MaxFileSize, fileLogger)));
app.MapPost("/body/sha256", (Delegate)FileRoutes.BodySha256); // the same for an uploaded body (to compare)


app.Lifetime.ApplicationStarted.Register(() =>
{
    var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
    foreach (var address in addresses.Where(_ => options.ListenFd is null))
    {
        Console.WriteLine($"Try: {SampleOptions.CurlCommandFor(address)}");
    }
});

// A failed bind (path in use, no such directory, EACCES…) is one line on stderr and exit 1.
return await StartupErrors.RunAsync(() => app.RunAsync());

/// <summary>Entry point type, public so tests can host it with WebApplicationFactory.</summary>
public partial class Program
{
    /// <summary>The longest <c>GET /wait/{seconds}</c> accepts: a day.</summary>
    private const double MaxWaitSeconds = 86_400;

    // PipeReader.CopyToAsync is avoided on purpose: after a client leaves, it can advance the reader to a
    // default position (dotnet/runtime #51147), which Kestrel then logs as the application's error.
    private static async Task EchoAsync(System.IO.Pipelines.PipeReader reader, System.IO.Pipelines.PipeWriter writer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await reader.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            foreach (var segment in buffer)
            {
                System.Buffers.BuffersExtensions.Write(writer, segment.Span);
            }
            reader.AdvanceTo(buffer.End);
            var flush = await writer.FlushAsync(cancellationToken);
            if (read.IsCompleted || read.IsCanceled || flush.IsCompleted || flush.IsCanceled)
            {
                return; // the body ended, or the client left
            }
        }
    }
}

