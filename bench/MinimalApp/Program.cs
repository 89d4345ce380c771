// MinimalApp: the benchmark's same-work server. One MapGet for plaintext and one streaming large
// bodies, no middleware, no authentication: per request both transports run exactly the same code.
//
//   dotnet bench/MinimalApp/bin/Release/net10.0/MinimalApp.dll --transport native|sockets [--inline] --urls http://unix:/tmp/x.sock
//
// --inline sets UnsafePreferInlineScheduling on whichever transport serves (ours or Kestrel's Sockets).
// Everything else goes to the host (--urls, --Kestrel:EndpointDefaults:Protocols=Http2, …).
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

var transport = "native";
var inline = false;
var hostArgs = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--transport" when i + 1 < args.Length:
            transport = args[++i];
            break;
        case "--inline":
            inline = true;
            break;
        default:
            hostArgs.Add(args[i]);
            break;
    }
}
if (transport is not ("native" or "sockets"))
{
    Console.Error.WriteLine($"--transport must be 'native' or 'sockets', not '{transport}'.");
    return 2;
}

var builder = WebApplication.CreateSlimBuilder(hostArgs.ToArray());
// Both transports get the same settings; only the one serving unix endpoints differs.
builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = inline);
if (transport == "native")
{
    builder.WebHost.UseUnixNativeTransport(o => o.UnsafePreferInlineScheduling = inline);
}

var app = builder.Build();
app.MapGet("/plaintext", () => Results.Text("Hello, World!", "text/plain"));
// The same body writer as the sample's /bytes/{n}: 64 KiB chunks, a flush after each.
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
        writer.GetSpan(chunk)[..chunk].Fill((byte)'x');
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
app.Run();
return 0;
