// WebOverUds: a small web API served over a Unix domain socket by Transport.UnixNative.
//
//   dotnet run --project samples/WebOverUds                      # unix socket under $XDG_RUNTIME_DIR or /tmp
//   dotnet run --project samples/WebOverUds -- --urls "http://unix:@webover;http://localhost:5080"
//   dotnet run --project samples/WebOverUds -- --transport sockets   # Kestrel's built-in Sockets transport
//   dotnet run --project samples/WebOverUds -- client http+unix://%2Ftmp%2Fwebover-uds.sock/json   # client mode
using System.IO.Pipelines;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using WebOverUds;

if (args is ["client", ..])
{
    return await ClientMode.RunAsync(args[1..]);
}

var options = SampleOptions.Parse(args);

var builder = WebApplication.CreateBuilder(options.HostArgs);
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore.Routing", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore.Http.Result", LogLevel.Warning);

if (options.Transport == "native")
{
    builder.WebHost.UseUnixNativeTransport();
}

if (builder.Configuration[WebHostDefaults.ServerUrlsKey] is not { Length: > 0 })
{
    builder.WebHost.UseUrls($"http://unix:{SampleOptions.DefaultSocketPath()}");
}

var app = builder.Build();

app.MapGet("/", () => "WebOverUds: an ASP.NET Core app served over a Unix domain socket by Transport.UnixNative.\n");
app.MapGet("/plaintext", () => Results.Text("Hello, World!", "text/plain"));
app.MapGet("/json", () => Results.Json(new Greeting("Hello, World!"), SampleJsonContext.Default.Greeting));
app.MapPost("/echo", async (HttpContext context) =>
{
    context.Response.ContentType = context.Request.ContentType ?? "application/octet-stream";
    if (context.Request.ContentLength is long length)
    {
        context.Response.ContentLength = length;
    }
    // Stream the body back as it arrives: nothing is buffered beyond the pipes.
    await context.Request.BodyReader.CopyToAsync(context.Response.BodyWriter, context.RequestAborted);
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
            break;
        }
    }
});

app.Lifetime.ApplicationStarted.Register(() =>
{
    var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
    foreach (var address in addresses)
    {
        Console.WriteLine($"Try: {SampleOptions.CurlCommandFor(address)}");
    }
});

app.Run();
return 0;

/// <summary>Entry point type, public so tests can host it with WebApplicationFactory.</summary>
public partial class Program;
