using System.Net;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>
/// HTTP/2 with prior knowledge (h2c) over unix sockets. The endpoints are Http2-only: Kestrel does not
/// offer h2c on an Http1AndHttp2 cleartext endpoint. curl and h2load check that the server really speaks h2c.
/// </summary>
public sealed class Http2Tests : IAsyncLifetime
{
    private readonly string _path = TestPaths.SocketPath();
    private readonly string _abstract = TestPaths.AbstractAddress();
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync("h2", k =>
        {
            k.ListenUnixSocket(_path, o => o.Protocols = HttpProtocols.Http2);
            k.ListenUnixAbstract(_abstract, o => o.Protocols = HttpProtocols.Http2);
        }, ServerTransport.Native, _path);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static HttpClient Http2Client(string address) =>
        new(UnixSocketHttpHandler.Create(address, o => o.Http2PriorKnowledge = true)) { BaseAddress = new("http://localhost") };

    [Theory]
    [InlineData("path")]
    [InlineData("abstract")]
    public async Task HandlerOption_SpeaksHttp2PriorKnowledge(string kind)
    {
        using var http = Http2Client(kind == "path" ? _path : _abstract);

        using var response = await http.GetAsync("/whoami").DefaultTimeout();
        var whoami = (await response.Content.ReadAsStringAsync().DefaultTimeout()).Split(' ');

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(["h2", "localhost", "HTTP/2"], whoami[..3]);
    }

    [Fact]
    public async Task RequestVersionExact_OnAnHttpUnixUrl()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());
        using var request = new HttpRequestMessage(HttpMethod.Get, TestPaths.UnixUrl(_abstract, "/whoami"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using var response = await http.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.StartsWith("h2 localhost HTTP/2", await response.Content.ReadAsStringAsync().DefaultTimeout());
    }

    [Fact]
    public async Task ConcurrentRequests_MultiplexOnOneConnection()
    {
        using var http = Http2Client(_path);
        await http.GetStringAsync("/plaintext").DefaultTimeout(); // open the connection first

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => http.GetStringAsync("/whoami"))).DefaultTimeout();

        Assert.Single(answers.Select(a => a.Split(' ')[3]).Distinct());
    }

    [Fact]
    public async Task StreamedResponse_IsReadAsItArrives()
    {
        using var http = Http2Client(_path);
        using var response = await http.GetAsync("/stream?id=h2-stream", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync().DefaultTimeout());

        // The server holds the rest of the body until we have read the first line.
        Assert.Equal("first", await reader.ReadLineAsync().DefaultTimeout());
        _server.Release("h2-stream");
        Assert.Equal("second", await reader.ReadLineAsync().DefaultTimeout());
        Assert.Null(await reader.ReadLineAsync().DefaultTimeout());
        Assert.Equal(HttpVersion.Version20, response.Version);
    }

    [Fact]
    public async Task FullDuplex_RequestBodyStreamsWhileTheResponseStreamsBack()
    {
        using var http = Http2Client(_abstract);
        var content = new DuplexContent();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/echo") { Content = content };

        var sending = http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var requestBody = await content.Stream.DefaultTimeout();
        await requestBody.WriteAsync("ping-1;"u8.ToArray()).DefaultTimeout();
        await requestBody.FlushAsync().DefaultTimeout();
        // The response (headers and the first echo) arrives while the request body is still open.
        using var response = await sending.DefaultTimeout();
        var responseBody = await response.Content.ReadAsStreamAsync().DefaultTimeout();
        Assert.Equal("ping-1;", await ReadExactlyAsync(responseBody, 7));

        await requestBody.WriteAsync("ping-2;"u8.ToArray()).DefaultTimeout();
        await requestBody.FlushAsync().DefaultTimeout();
        Assert.Equal("ping-2;", await ReadExactlyAsync(responseBody, 7));

        content.Complete();
        Assert.Equal(0, await responseBody.ReadAsync(new byte[1]).DefaultTimeout());
        Assert.Equal(HttpVersion.Version20, response.Version);
    }

    // 16 MiB needs HTTP/2: over HTTP/1.1 SocketsHttpHandler returns the response only after the whole
    // request body is sent, so an echo larger than the buffers in between stalls on any transport.
    [Fact]
    public async Task LargeEcho_OverHttp2()
    {
        using var http = Http2Client(_path);

        await PayloadContent.AssertEchoAsync(http, "/echo", 16 * 1024 * 1024);
    }

    [ToolFact("curl")]
    public async Task Curl_SpeaksH2cToTheSameEndpoints()
    {
        var viaPath = await ProcessRunner.RunAsync(Tools.Require("curl"),
            ["-sS", "--http2-prior-knowledge", "--unix-socket", _path, "http://localhost/whoami"]);
        var viaAbstract = await ProcessRunner.RunAsync(Tools.Require("curl"),
            ["-sS", "--http2-prior-knowledge", "--abstract-unix-socket", _abstract[1..], "http://localhost/whoami"]);

        Assert.True(viaPath.ExitCode == 0, viaPath.ToString());
        Assert.StartsWith("h2 localhost HTTP/2", viaPath.StandardOutput);
        Assert.True(viaAbstract.ExitCode == 0, viaAbstract.ToString());
        Assert.StartsWith("h2 localhost HTTP/2", viaAbstract.StandardOutput);
    }

    [ToolFact("h2load")]
    public async Task H2load_SpeaksH2cToTheSameEndpoint()
    {
        var result = await ProcessRunner.RunAsync(Tools.Require("h2load"),
            ["-B", "unix:" + _path, "-n", "200", "-c", "2", "-m", "8", "http://localhost/plaintext"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Application protocol: h2c", result.StandardOutput);
        Assert.Contains("200 succeeded, 0 failed, 0 errored", result.StandardOutput);
    }

    private static async Task<string> ReadExactlyAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer).DefaultTimeout();
        return Encoding.ASCII.GetString(buffer);
    }
}

/// <summary>Request content the test writes to while the request is in flight; ends when the test says so.</summary>
internal sealed class DuplexContent : HttpContent
{
    private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<Stream> Stream => _stream.Task;

    public void Complete() => _done.TrySetResult();

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        _stream.TrySetResult(stream);
        await _done.Task.DefaultTimeout();
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
