using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>
/// UnsafePreferInlineCompletions: the client's own connection stream on its own epoll thread, against our real
/// server on a path and an abstract address: bodies both ways, many connections at once, a wait that is cancelled,
/// a server that goes away mid-response, and that waiting reads do resume on the client's loop thread.
/// </summary>
public sealed class InlineCompletionsTests : IAsyncLifetime
{
    private readonly string _path = TestPaths.SocketPath();
    private readonly string _abstract = TestPaths.AbstractAddress();
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync("inline", k =>
        {
            k.ListenUnixSocket(_path);
            k.ListenUnixAbstract(_abstract);
        }, ServerTransport.Native, _path);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static HttpClient Client(string address)
        => new(UnixSocketHttpHandler.Create(address, o => o.UnsafePreferInlineCompletions = true)) { BaseAddress = new("http://localhost") };

    [Theory]
    [InlineData("path")]
    [InlineData("abstract")]
    public async Task ManyConcurrentRequests_AllAnswered(string kind)
    {
        using var http = Client(kind == "path" ? _path : _abstract);

        var bodies = await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            var answers = new List<string>();
            for (var i = 0; i < 20; i++)
            {
                answers.Add(await http.GetStringAsync("/plaintext").ConfigureAwait(false));
            }
            return answers;
        })).DefaultTimeout();

        Assert.All(bodies.SelectMany(b => b), b => Assert.Equal("Hello, World!", b));
    }

    [Fact]
    public async Task WaitingRead_ResumesOnTheClientLoopThread()
    {
        using var http = Client(_path);
        using var response = await http.GetAsync("/stream?id=thread", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var body = await response.Content.ReadAsStreamAsync().DefaultTimeout();
        var buffer = new byte[64];
        Assert.Equal("first\n", System.Text.Encoding.ASCII.GetString(buffer, 0, await body.ReadAsync(buffer).AsTask().DefaultTimeout()));

        // The rest is held back by the server until released, so this read reaches EAGAIN and waits before the
        // release (the call runs synchronously up to that wait); the thread it goes on with is the one that resumed it.
        async Task<string?> ReadThenName()
        {
            await body.ReadAsync(buffer).ConfigureAwait(false);
            return Thread.CurrentThread.Name;
        }
        var resumedOn = ReadThenName();
        _server.Release("thread");

        Assert.Equal("unp-client-loop", await resumedOn.DefaultTimeout());
    }

    [Fact]
    public async Task LargeBodies_BothWays_ThroughFullSocketBuffers()
    {
        using var http = Client(_path);
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);

        // 1 MiB up and echoed back is several socket buffers each way: sends and receives both wait for readiness.
        using var echo = await http.PostAsync("/echo", new ByteArrayContent(payload)).DefaultTimeout();
        var echoed = await echo.Content.ReadAsByteArrayAsync().DefaultTimeout();
        var download = await http.GetByteArrayAsync("/bytes/8388608").DefaultTimeout();

        Assert.Equal(payload, echoed);
        Assert.Equal(8 * 1024 * 1024, download.Length);
        Assert.All(new[] { 0, 65_537, 8_388_607 }, i => Assert.Equal((byte)(i % 251), download[i]));
    }

    [Fact]
    public async Task CancelledWait_EndsTheRead_AndTheClientGoesOn()
    {
        using var http = Client(_path);
        using var response = await http.GetAsync("/stream?id=cancel", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var body = await response.Content.ReadAsStreamAsync().DefaultTimeout();
        var buffer = new byte[64];
        Assert.Equal("first\n", System.Text.Encoding.ASCII.GetString(buffer, 0, await body.ReadAsync(buffer).AsTask().DefaultTimeout()));

        using var cancel = new CancellationTokenSource();
        var pending = body.ReadAsync(buffer, cancel.Token).AsTask();
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.DefaultTimeout());
        Assert.Equal("Hello, World!", await http.GetStringAsync("/plaintext").DefaultTimeout());
        _server.Release("cancel");
    }

    [Fact]
    public async Task PeerClosingMidResponse_FailsTheRequest_WithoutHanging()
    {
        // A hostile or crashing server: answers half a response head, then closes.
        var path = TestPaths.SocketPath();
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        listener.Listen();
        try
        {
            var peer = Task.Run(async () =>
            {
                using var accepted = await listener.AcceptAsync().ConfigureAwait(false);
                var request = new byte[4096];
                await accepted.ReceiveAsync(request).ConfigureAwait(false);
                await accepted.SendAsync("HTTP/1.1 200 OK\r\nContent-Le"u8.ToArray()).ConfigureAwait(false);
            });
            using var http = Client(path);

            var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/plaintext").DefaultTimeout());

            await peer.DefaultTimeout();
            Assert.NotNull(error.Message);
        }
        finally
        {
            TestPaths.DeleteQuietly(path);
        }
    }
}
