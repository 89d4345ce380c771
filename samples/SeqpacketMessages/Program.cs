// SeqpacketMessages: a message protocol (not HTTP) over a SOCK_SEQPACKET unix socket, served by
// Kestrel through Transport.UnixNative. Every packet a client sends is one request; the reply is
// one packet: "<n>:<LENGTH>:<REQUEST IN UPPER CASE>" where n counts the connection's requests.
//
//   dotnet run --project samples/SeqpacketMessages -- @seqdemo          (or an absolute path)
//   python3 -c "import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect('\0seqdemo'); s.send(b'hi'); print(s.recv(65536))"
using System.Text;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative;

var address = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "@seqpacket-messages";

var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseUnixNativeTransport();
StartupErrors.SilenceHostFailureLog(builder.Logging);
builder.WebHost.ConfigureKestrel(k => k.ListenUnixSeqpacketMessages(address, l => l.UseConnectionHandler<UpperCaseHandler>()));

var app = builder.Build();
app.Lifetime.ApplicationStarted.Register(() =>
{
    var python = address.StartsWith('@') ? $"'\\0{address[1..]}'" : $"'{address}'";
    Console.WriteLine($"Message server on seqpacket {address}. Try:");
    Console.WriteLine($"  python3 -c \"import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect({python}); s.send(b'hi'); print(s.recv(65536))\"");
});
return await StartupErrors.RunAsync(() => app.RunAsync());

/// <summary>Answers every message with one message; boundaries are the protocol's framing.</summary>
internal sealed class UpperCaseHandler : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var messages = connection.Features.Get<IUnixMessageFeature>()
            ?? throw new InvalidOperationException("Bind this handler with ListenUnixSeqpacketMessages.");
        var count = 0;
        while (await messages.ReceiveAsync(connection.ConnectionClosed) is { } request)
        {
            var reply = $"{++count}:{request.Length}:{Encoding.UTF8.GetString(request.Span).ToUpperInvariant()}";
            await messages.SendAsync(Encoding.UTF8.GetBytes(reply), connection.ConnectionClosed);
        }
    }
}
