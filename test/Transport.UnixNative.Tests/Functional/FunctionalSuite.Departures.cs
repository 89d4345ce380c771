using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Functional;

/// <summary>
/// Clients that leave mid-response (a departure: RequestAborted, never an application error) and clients
/// that only half-close after a request with a body (not a departure: they still read the answer).
/// </summary>
public abstract partial class FunctionalSuite<TFixture>
{
    [Theory]
    [InlineData("/echo")]
    [InlineData("/test/length-loop")]
    public async Task ClientsLeavingAfterTheHead_NoErrorLogged_EveryRequestAborted(string route)
    {
        // Ten clients at once start a response larger than the socket buffers, read its head and close
        // with the rest unread. The echo is also still reading its body when its client goes.
        const int clients = 10;
        var key = TestPaths.Hex8();
        var counts = Host.Hooks.WaitsFor(key);
        counts.HoldUntilAborted = true;
        var logsBefore = Host.Logs.Entries.Count;

        var ids = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => LeaveAfterTheHeadAsync(route, key))).DefaultTimeout();

        // Every handler learns that its client left (an event, whenever it comes).
        await counts.WhenAborted(clients).DefaultTimeout();
        foreach (var id in ids)
        {
            var tracked = Host.Connections.Get(id);
            await tracked.Ended.Task.DefaultTimeout();
            await tracked.ClosedFired.Task.DefaultTimeout();
        }
        Assert.Equal(clients, counts.Started);
        // Kestrel has logged whatever it had to say about these requests before their connections ended.
        // (The sample's developer exception page may still log a reset thrown from a body read before
        // RequestAborted fired: Kestrel cancels that token on its own schedule. Kestrel itself does not.)
        var errors = Host.Logs.Entries.Skip(logsBefore)
            .Where(e => e.Level >= LogLevel.Error
                && (e.Category.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal)
                    || e.Category.StartsWith("Transport.UnixNative", StringComparison.Ordinal)))
            .Select(e => $"{e.Category}[{e.EventId}]: {e.Message} {e.Exception}")
            .ToArray();
        if (!fixture.Native && route == "/echo")
        {
            // Kestrel's Sockets transport completes the input with the reset before ConnectionClosed fires
            // and reports a completed flush before it, so here Kestrel blames the echo for some of them
            // (a reset thrown from its body read, a short body, or CopyToAsync's advance after a completed
            // flush). Ours orders both after ConnectionClosed.
            return;
        }
        Assert.True(errors.Length == 0, string.Join("\n", errors));
        await AssertServesAsync();
    }

    private async Task<string> LeaveAfterTheHeadAsync(string route, string key)
    {
        using var socket = await UnixClient.ConnectSocketAsync(Address);
        await using var stream = Address.IsSeqpacket ? (Stream)new SeqpacketStream(socket) : new NetworkStream(socket, ownsSocket: false);
        if (route == "/echo")
        {
            // 128 KiB of a 64 MiB body: it is echoed into our receive buffer, which we never read.
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /echo?key={key} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {64 * 1024 * 1024}\r\n\r\n")).DefaultTimeout();
            await stream.WriteAsync(new byte[128 * 1024]).DefaultTimeout();
        }
        else
        {
            await stream.WriteAsync(RawHttpReader.Get($"{route}?key={key}&n={8 * 1024 * 1024}")).DefaultTimeout();
        }
        var head = await ReadHeadAsync(stream);
        Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
        // Closed with data unread: the server's receive sees a reset, its next send EPIPE.
        return HeaderValue(head, "X-Connection-Id");
    }
}
