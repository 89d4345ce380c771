using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>The sample's <c>GET /bytes/{n}</c> (the benchmark's large body), as outside checks drive it.</summary>
public class BytesRouteTests
{
    /// <summary>
    /// Clients that read the head of a large body and close: each request ends, and nothing is logged
    /// as an error (a send failing with EPIPE is the connection's end, not the application's fault).
    /// The handler also aborts the request when its flush reports the client gone, so that Kestrel
    /// does not report the short Content-Length as an unhandled exception in the rare order where the
    /// flush learns of the departure before <c>RequestAborted</c> does (seen once in a benchmark run;
    /// this test does not force that order).
    /// </summary>
    [Fact]
    public async Task ClientsLeavingMidBody_EndTheirRequestsWithoutAnErrorLogged()
    {
        using var paths = new TempPaths();
        var address = new ServerAddress(paths.SocketPath());
        await using var host = await SampleHost.StartAsync(address);

        const int Clients = 20;
        for (var i = 0; i < Clients; i++)
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(address.Address)).DefaultTimeout();
            await socket.SendAsync("GET /bytes/67108864 HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray()).DefaultTimeout();
            var head = new byte[4096];
            var n = await socket.ReceiveAsync(head).DefaultTimeout();
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(head, 0, n), StringComparison.Ordinal);
            // Closed with the body unread: the server's next send fails, as for a client killed mid-download.
        }

        // A connection ends (in the tracking middleware) only after Kestrel finished its request and logged.
        Assert.Equal(Clients, host.Connections.All.Count);
        foreach (var connection in host.Connections.All)
        {
            await connection.Ended.Task.DefaultTimeout();
        }
        var errors = host.Logs.Entries.Where(e => e.Level >= LogLevel.Error).Select(e => $"{e.Category}: {e.Message} {e.Exception?.Message}").ToArray();
        Assert.True(errors.Length == 0, string.Join('\n', errors));
    }
}
