using System.Net.Http;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;
using NativeSocket = Transport.UnixNative.Interop.Socket;
using Transport.UnixNative.Restart;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Restart;

/// <summary>A listening socket handed over by a supervisor (systemd socket activation: <c>ListenHandle</c>).</summary>
public sealed class InheritedSocketTests
{
    [Fact]
    public async Task ListenHandle_InheritedUnixSocket_ServedByNativeTransportAndFileLeftToItsOwner()
    {
        var path = $"/tmp/ih-{Guid.NewGuid().ToString("N")[..8]}.sock";
        var fd = ListeningSocket(path);
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUnixNativeTransport();
            builder.WebHost.ConfigureKestrel(k => k.ListenHandle((ulong)fd));
            await using var app = builder.Build();
            app.MapGet("/id", (HttpContext context) => context.Connection.Id);
            await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));

            using var client = new HttpClient(new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var socket = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            });
            var id = await client.GetStringAsync("http://localhost/id").WaitAsync(TimeSpan.FromSeconds(30));

            // Our connections are named UDS…; Kestrel's Sockets transport would name them differently.
            Assert.StartsWith("UDS", id);
            await app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(File.Exists(path), "the inherited socket's file belongs to whoever created it");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void CanBind_HandleThatIsNotAUnixSocket_IsLeftToOtherTransports()
    {
        using var file = File.OpenHandle(Path.GetTempFileName(), FileMode.Open, FileAccess.Read, FileShare.None, FileOptions.DeleteOnClose);
        var endPoint = new Microsoft.AspNetCore.Connections.FileHandleEndPoint((ulong)file.DangerousGetHandle(), Microsoft.AspNetCore.Connections.FileHandleType.Auto);

        Assert.False(InheritedSocket.IsUnix(endPoint, out _));
    }

    // What a supervisor would pass: a bound, listening, blocking socket whose descriptor it hands over.
    private static unsafe int ListeningSocket(string path)
    {
        var handle = NativeSocket.Create(NativeSocket.AF_UNIX, NativeSocket.SOCK_STREAM);
        Span<byte> address = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(false, path, address);
        fixed (byte* p = address)
        {
            Assert.Equal(0, NativeSocket.bind(handle, p, length));
        }
        Assert.Equal(0, NativeSocket.listen(handle, 16));
        var fd = handle.Fd;
        handle.SetHandleAsInvalid(); // ownership passes to Kestrel, as with an inherited descriptor
        return fd;
    }
}
