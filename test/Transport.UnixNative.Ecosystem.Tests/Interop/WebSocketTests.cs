using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Transport.UnixNative.Client;

namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>
/// WebSockets and HTTP/1.1 upgrades both ways: Kestrel's WebSockets middleware over our stream and seqpacket
/// endpoints (Kestrel's Sockets transport as the control), <see cref="ClientWebSocket"/> over our handler, Python
/// <c>websockets</c> as client and server, and clients that vanish without a close frame: the server's handler
/// must learn it and end, and the connection's descriptors must be released.
/// </summary>
public sealed class WebSocketTests
{
    private const string WebsocketsClientScript = """
        import sys, asyncio, websockets
        address, key = sys.argv[1], sys.argv[2]
        uds = "\0" + address[1:] if address.startswith("@") else address
        async def main():
            async with websockets.unix_connect(uds, f"ws://localhost/ws?key={key}", max_size=4 << 20) as ws:
                for message in ["hello", b"\x00\x01\xff", "x" * 300000, bytes(range(256)) * 4096]:
                    await ws.send(message)
                    assert await ws.recv() == message
            print("ok")
        asyncio.run(main())
        """;

    // Each client echoes once, then the process ends without a close frame: the kernel closes its sockets.
    private const string WebsocketsVanishScript = """
        import sys, os, asyncio, websockets
        address, keys = sys.argv[1], sys.argv[2:]
        async def main():
            sockets = [await websockets.unix_connect(address, f"ws://localhost/ws?key={key}") for key in keys]
            for ws in sockets:
                await ws.send("before vanishing")
                assert await ws.recv() == "before vanishing"
            print("echoed", flush=True)
            os._exit(0)
        asyncio.run(main())
        """;

    private const string WebsocketsServerScript = """
        import sys, asyncio, websockets
        async def echo(ws, *_):
            async for message in ws:
                await ws.send(message)
        async def main():
            async with websockets.unix_serve(echo, sys.argv[1], max_size=4 << 20):
                print("ready", sys.argv[1], flush=True)
                await asyncio.Event().wait()
        asyncio.run(main())
        """;

    public static TheoryData<Backend> AllBackends() => [Backend.Ours, Backend.OursAbstract, Backend.OursSeqpacket, Backend.Sockets];

    public static TheoryData<Backend> PathBackends() => [Backend.Ours, Backend.Sockets];

    [Theory]
    [MemberData(nameof(AllBackends))]
    public async Task ClientWebSocket_OverOurHandler_EchoAndClose(Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend);

        var key = await HttpChecks.WebSocketEchoAsync(server.Address, () => Handler(server));

        Assert.Equal("closed", await server.WebSocketOutcome(key).DefaultTimeout());
    }

    /// <summary>WebSockets over HTTP/2 (RFC 8441 extended CONNECT) on an h2c endpoint.</summary>
    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.OursSeqpacket)]
    [InlineData(Backend.Sockets)]
    public async Task ClientWebSocket_OverHttp2_EchoAndClose(Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend, http2: true);

        var key = await HttpChecks.WebSocketEchoAsync(server.Address, () => Handler(server), HttpVersion.Version20);

        Assert.Equal("closed", await server.WebSocketOutcome(key).DefaultTimeout());
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public async Task ClientWebSocket_Aborted_HandlerEnds_AndDescriptorsReleased(Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend);
        var key = TestPaths.Hex8();
        using (var invoker = new HttpMessageInvoker(Handler(server)))
        using (var ws = new ClientWebSocket())
        {
            await ws.ConnectAsync(new Uri($"ws://localhost/ws?key={key}"), invoker, CancellationToken.None).DefaultTimeout();
            await HttpChecks.EchoAsync(ws, Encoding.UTF8.GetBytes("then gone"), WebSocketMessageType.Text);
            Assert.Equal(1, server.OpenServerConnections());
            ws.Abort();
        }

        var outcome = await server.WebSocketOutcome(key).DefaultTimeout();
        Assert.StartsWith("ended by", outcome, StringComparison.Ordinal);
        Assert.True(await Poll.UntilAsync(() => server.OpenServerConnections() == 0), $"server sockets still open: {server.OpenServerConnections()}");
    }

    [PythonTheory("websockets")]
    [MemberData(nameof(AllBackendsButSeqpacket))]
    public async Task PythonWebsockets_UnixConnect_EchoAndClose(Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend);
        var key = TestPaths.Hex8();

        Assert.Equal("ok", await Python.RunAsync(WebsocketsClientScript, server.Address, key));

        Assert.Equal("closed", await server.WebSocketOutcome(key).DefaultTimeout());
    }

    public static TheoryData<Backend> AllBackendsButSeqpacket() => [Backend.Ours, Backend.OursAbstract, Backend.Sockets];

    [PythonTheory("websockets")]
    [MemberData(nameof(PathBackends))]
    public async Task PythonWebsockets_VanishWithoutCloseFrame_HandlersEnd_AndDescriptorsReleased(Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend);
        var keys = Enumerable.Range(0, 5).Select(_ => TestPaths.Hex8()).ToArray();

        Assert.Equal("echoed", await Python.RunAsync(WebsocketsVanishScript, [server.Address, .. keys]));

        foreach (var key in keys)
        {
            Assert.StartsWith("ended by", await server.WebSocketOutcome(key).DefaultTimeout(), StringComparison.Ordinal);
        }
        Assert.True(await Poll.UntilAsync(() => server.OpenServerConnections() == 0), $"server sockets still open: {server.OpenServerConnections()}");
    }

    /// <summary>Our client upgrading against WebSocket servers nobody here wrote: Python websockets.unix_serve and aiohttp.</summary>
    [PythonTheory("websockets", "aiohttp")]
    [InlineData("websockets")]
    [InlineData("aiohttp")]
    public async Task ClientWebSocket_AgainstPythonServers(string server)
    {
        using var dir = new PrivateDirectory();
        var path = dir.File("ws.sock");
        await using var process = server == "websockets"
            ? Python.Start(WebsocketsServerScript, path)
            : Python.Start(ForeignServerTests.AiohttpServerScript, path);
        await process.WaitForLineAsync(line => line == "ready " + path);

        await HttpChecks.WebSocketEchoAsync(path);
    }

    /// <summary>A plain HTTP/1.1 upgrade (not WebSocket): 101, then the raw connection both ways through our handler's response stream.</summary>
    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.OursSeqpacket)]
    [InlineData(Backend.Sockets)]
    public async Task Http11Upgrade_RawStreamBothWays(Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend);
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/upgrade");
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Add(new System.Net.Http.Headers.ProductHeaderValue("echo"));

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();

        Assert.Equal(HttpStatusCode.SwitchingProtocols, response.StatusCode);
        await using var stream = await response.Content.ReadAsStreamAsync().DefaultTimeout();
        Assert.True(stream.CanWrite);
        var message = HttpChecks.Pattern(256 * 1024);
        var write = stream.WriteAsync(message).AsTask();
        var back = new byte[message.Length];
        await stream.ReadExactlyAsync(back).DefaultTimeout();
        await write.DefaultTimeout();
        Assert.Equal(message, back);
    }

    private static UnixSocketHttpHandler Handler(InteropServer server)
        => UnixSocketHttpHandler.Create(server.Address, o => o.SocketType = server.IsSeqpacket ? SocketType.Seqpacket : SocketType.Stream);
}
