using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Transport.UnixNative.Client;

namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>The checks every path to a server gets, with HttpClient (our handler) on the near side.</summary>
internal static class HttpChecks
{
    public const int Sequential = 100;
    public const int Workers = 8;
    public const int PerWorker = 25;
    public const int UploadBytes = 8 << 20;

    /// <summary>A client whose every request goes to <paramref name="socket"/> (a path or <c>@name</c>).</summary>
    public static HttpClient Client(string socket) => new(UnixSocketHttpHandler.Create(socket)) { BaseAddress = new Uri("http://localhost") };

    /// <summary>
    /// <see cref="Sequential"/> GETs one after the other, then <see cref="Workers"/> loops at once: every answer right.
    /// Returns how many distinct backend connections (<c>/conn</c>) served the sequential ones.
    /// </summary>
    public static async Task<int> ManyRequestsAsync(HttpClient client)
    {
        var connections = new HashSet<string>();
        for (var i = 0; i < Sequential; i++)
        {
            connections.Add(await client.GetStringAsync("/conn").DefaultTimeout());
        }
        var workers = Enumerable.Range(0, Workers).Select(async _ =>
        {
            for (var i = 0; i < PerWorker; i++)
            {
                Assert.Equal("Hello, World!", await client.GetStringAsync("/plaintext").DefaultTimeout());
            }
        });
        await Task.WhenAll(workers).DefaultTimeout();
        return connections.Count;
    }

    /// <summary>Releases an SSE stream through the server's own <c>/release?key=K</c> route (on another connection of the pool).</summary>
    public static Func<string, Task> ReleaseOver(HttpClient client) => key => client.GetStringAsync($"/release?key={key}");

    /// <summary>A body of <see cref="UploadBytes"/>, hashed by the server: its length and SHA-256 must come back.</summary>
    public static async Task UploadAsync(HttpClient client)
    {
        var body = Pattern(UploadBytes);
        using var response = await client.PostAsync("/sha256", new ByteArrayContent(body)).DefaultTimeout();
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(ExpectedHash(body), await response.Content.ReadAsStringAsync().DefaultTimeout());
    }

    /// <summary>The first event arrives while the server still holds the second (released only once the first was read).</summary>
    public static async Task ServerSentEventsAsync(HttpClient client, Func<string, Task> release)
    {
        var key = TestPaths.Hex8();
        using var response = await client.GetAsync($"/sse?key={key}", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync().DefaultTimeout());
        Assert.Equal("data: one", await reader.ReadLineAsync().DefaultTimeout());
        await release(key).DefaultTimeout();
        Assert.Equal(string.Empty, await reader.ReadLineAsync().DefaultTimeout());
        Assert.Equal("data: two", await reader.ReadLineAsync().DefaultTimeout());
    }

    /// <summary>
    /// A WebSocket through <paramref name="socket"/> (ClientWebSocket over our handler): text, binary, a 1 MiB
    /// message, then the close handshake. Returns the server's outcome key.
    /// </summary>
    public static async Task<string> WebSocketEchoAsync(string socket, Func<UnixSocketHttpHandler>? handler = null, Version? httpVersion = null)
    {
        var key = TestPaths.Hex8();
        using var invoker = new HttpMessageInvoker(handler?.Invoke() ?? UnixSocketHttpHandler.Create(socket));
        using var ws = new ClientWebSocket();
        if (httpVersion is not null)
        {
            ws.Options.HttpVersion = httpVersion;
            ws.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        await ws.ConnectAsync(new Uri($"ws://localhost/ws?key={key}"), invoker, CancellationToken.None).DefaultTimeout();
        await EchoAsync(ws, Encoding.UTF8.GetBytes("hello through a unix socket"), WebSocketMessageType.Text);
        await EchoAsync(ws, [0, 1, 2, 255], WebSocketMessageType.Binary);
        await EchoAsync(ws, Pattern(1 << 20), WebSocketMessageType.Binary);
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).DefaultTimeout();
        Assert.Equal(WebSocketState.Closed, ws.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
        return key;
    }

    public static async Task EchoAsync(WebSocket ws, byte[] message, WebSocketMessageType type)
    {
        // Receive while sending: the echo comes back before a large message is all sent, and HTTP/2 flow
        // control (or full buffers) would stall a sender that reads nothing meanwhile.
        var send = ws.SendAsync(message.AsMemory(), type, endOfMessage: true, CancellationToken.None).AsTask();
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        WebSocketReceiveResult result;
        do
        {
            result = await ws.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout();
            received.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);
        await send.DefaultTimeout();
        Assert.Equal(type, result.MessageType);
        Assert.True(message.AsSpan().SequenceEqual(received.ToArray()), $"echo of {message.Length} bytes differs ({received.Length} back)");
    }

    public static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)(i * 31 + (i >> 11));
        }
        return bytes;
    }

    public static string ExpectedHash(byte[] body) => $"{body.Length} {Convert.ToHexStringLower(SHA256.HashData(body))}";
}
