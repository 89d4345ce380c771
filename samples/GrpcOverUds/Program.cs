// GrpcOverUds: gRPC (greet.Greeter, Protos/greet.proto) over unix sockets, both directions.
//
//   dotnet run --project samples/GrpcOverUds -- /tmp/greet.sock @greet      # serve on every address given
//   dotnet run --project samples/GrpcOverUds -- client /tmp/greet.sock Alice   # prints "Hello Alice"
//   /usr/bin/python3 -c "import grpc; c=grpc.insecure_channel('unix:/tmp/greet.sock'); print(c.unary_unary('/greet.Greeter/SayHello')(b'\n\x05Alice'))"
using GrpcOverUds;
using Transport.UnixNative;

if (args is ["client", ..])
{
    return await ClientMode.RunAsync(args[1..]);
}

var addresses = args.TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
var hostArgs = args[addresses.Length..];
if (addresses.Length == 0)
{
    Console.Error.WriteLine("usage: GrpcOverUds ADDRESS... [--host-options]   (ADDRESS: /absolute/path or @abstract-name)\n       GrpcOverUds client ADDRESS NAME");
    return 2;
}

return await StartupErrors.RunAsync(async () =>
{
    var builder = WebApplication.CreateBuilder(hostArgs);
    builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
    builder.Logging.AddFilter("Microsoft.AspNetCore.Routing", LogLevel.Warning);
    builder.Logging.AddFilter("Grpc.AspNetCore.Server", LogLevel.Warning);
    StartupErrors.SilenceHostFailureLog(builder.Logging);
    builder.WebHost.UseUnixNativeTransport();
    builder.WebHost.ConfigureKestrel(kestrel =>
    {
        foreach (var address in addresses)
        {
            // gRPC is HTTP/2; without TLS there is no ALPN, so the endpoint must be HTTP/2-only (h2c prior knowledge).
            if (address.StartsWith('@'))
            {
                kestrel.ListenUnixAbstract(address[1..], l => l.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2);
            }
            else
            {
                // Listen(endpoint) rather than ListenUnixSocket: the transport's error for a bad path names it and says why.
                kestrel.Listen(new System.Net.Sockets.UnixDomainSocketEndPoint(address), l => l.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2);
            }
        }
    });
    builder.Services.AddGrpc();

    var app = builder.Build();
    app.MapGrpcService<GreeterService>();
    app.Lifetime.ApplicationStarted.Register(() =>
    {
        foreach (var address in addresses)
        {
            Console.WriteLine($"Greeter on {address}. Try: dotnet run --project samples/GrpcOverUds -- client {address} World");
        }
    });
    await app.RunAsync();
});

/// <summary>Entry point type, public so tests can find the assembly.</summary>
public partial class Program;
