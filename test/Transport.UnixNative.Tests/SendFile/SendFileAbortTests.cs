using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.SendFile;

/// <summary>A file send that cannot finish (peer gone, canceled, file shrank, peer stalled) releases everything and never hangs.</summary>
[SupportedOSPlatform("linux")]
public sealed class SendFileAbortTests
{
    private const int Large = 64 * 1024 * 1024;

    /// <summary>Sends a GET for <paramref name="path"/> and reads until at least <paramref name="bodyBytes"/> of its body arrived.</summary>
    private static async Task<(Socket Socket, long Received)> StartDownloadAsync(SendFileServer server, string path, int bodyBytes)
    {
        var socket = await UnixClient.ConnectSocketAsync(server.Address);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").AsMemory()).AsTask().DefaultTimeout();
        var buffer = new byte[64 * 1024];
        var headers = new StringBuilder();
        long body = -1;
        while (body < bodyBytes)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().DefaultTimeout();
            Assert.True(n > 0, "the server closed the connection early");
            if (body >= 0)
            {
                body += n;
                continue;
            }
            headers.Append(Encoding.Latin1.GetString(buffer, 0, n));
            var end = headers.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                Assert.StartsWith("HTTP/1.1 200", headers.ToString());
                body = headers.Length - (end + 4);
            }
        }
        return (socket, body);
    }

    private static async Task<long> ReadToEndAsync(Socket socket)
    {
        var buffer = new byte[256 * 1024];
        long total = 0;
        int n;
        while ((n = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().DefaultTimeout()) > 0)
        {
            total += n;
        }
        return total;
    }

    [Fact]
    public async Task A_peer_that_leaves_mid_file_releases_the_file_and_the_connection()
    {
        await using var server = await SendFileServer.StartAsync();
        var path = server.CreateFile("big.bin", Large);
        var baseline = ProcessResources.TransportKinds();

        var (socket, _) = await StartDownloadAsync(server, "/files/big.bin", 1 << 20);
        Assert.Equal(1, SendFileServer.OpenHandlesTo(path)); // mid-file: the server holds the file
        socket.Dispose();

        Assert.True(await Poll.UntilAsync(() => SendFileServer.OpenHandlesTo(path) == 0 && ProcessResources.TransportKindsAtMost(baseline)),
            $"file handles: {SendFileServer.OpenHandlesTo(path)}, transport fds: {ProcessResources.TransportKinds()} (baseline {baseline})");
        Assert.Empty(server.SentWithSendFile);
    }

    [Fact]
    public async Task A_peer_that_stops_reading_does_not_pin_the_loop()
    {
        await using var server = await SendFileServer.StartAsync(new() { Transport = o => o.IOThreadCount = 1 });
        var path = server.CreateFile("big.bin", Large);
        var small = File.ReadAllBytes(server.CreateFile("small.bin", 100_000));

        var (stalled, _) = await StartDownloadAsync(server, "/files/big.bin", 64 * 1024);
        using (stalled)
        {
            // Same (only) I/O thread, another connection: served while the first waits for its peer.
            using var client = server.CreateClient();
            Assert.Equal(small, await client.GetByteArrayAsync("files/small.bin").DefaultTimeout());
            Assert.Equal(1, SendFileServer.OpenHandlesTo(path)); // the stalled send is parked, not finished
        }
        Assert.True(await Poll.UntilAsync(() => SendFileServer.OpenHandlesTo(path) == 0));
    }

    [Fact]
    public async Task A_peer_that_stops_reading_is_closed_at_the_minimum_response_data_rate()
    {
        // Kestrel's copying path times each 64 KiB write: a stalled reader is cut off after the grace
        // period. A file sent as one flush must not buy the peer the whole file's allowance (17 minutes here).
        var rate = new MinDataRate(bytesPerSecond: 64 * 1024, gracePeriod: TimeSpan.FromSeconds(2));
        await using var server = await SendFileServer.StartAsync(new() { Kestrel = k => k.Limits.MinResponseDataRate = rate });
        var path = server.CreateFile("big.bin", Large);

        var (stalled, _) = await StartDownloadAsync(server, "/files/big.bin", 64 * 1024);
        using (stalled)
        {
            Assert.True(await Poll.UntilAsync(() => SendFileServer.OpenHandlesTo(path) == 0),
                "the stalled download still holds the file");
            // The server gave up: what is left in the socket ends short of the file.
            Assert.True(await ReadToEndAsync(stalled) < Large);
        }
        Assert.Single(server.Logs.WithEventId(123));
        Assert.Empty(server.SentWithSendFile);
    }

    [Fact]
    public async Task Canceling_mid_file_closes_the_connection_and_releases_the_file()
    {
        await using var server = await SendFileServer.StartAsync();
        var path = server.CreateFile("big.bin", Large);

        var (socket, received) = await StartDownloadAsync(server, "/cancelable/big.bin", 1 << 20);
        using (socket)
        {
            server.CancelFile();
            await server.CanceledSeen.Task.DefaultTimeout();
            // The response cannot be completed: the connection ends short of Content-Length.
            Assert.True(received + await ReadToEndAsync(socket) < Large);
        }
        Assert.True(await Poll.UntilAsync(() => SendFileServer.OpenHandlesTo(path) == 0));
    }

    [Fact]
    public async Task A_file_truncated_during_the_send_ends_the_response_with_an_error()
    {
        await using var server = await SendFileServer.StartAsync();
        var path = server.CreateFile("big.bin", Large);

        var (socket, received) = await StartDownloadAsync(server, "/files/big.bin", 1 << 20);
        using (socket)
        {
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
            {
                file.SetLength(0);
            }
            Assert.True(received + await ReadToEndAsync(socket) < Large);
        }
        Assert.True(await Poll.UntilAsync(() => server.Logs.WithEventId(122).Any()), "no SendFileFailed log");
        Assert.Contains("shrank", (string)server.Logs.WithEventId(122).First()["Reason"]!);
        Assert.True(await Poll.UntilAsync(() => SendFileServer.OpenHandlesTo(path) == 0));
    }
}
