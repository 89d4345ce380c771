using System.Net;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>nginx listening on unix sockets: an outside HTTP/1.1 and HTTP/2 server for the client.</summary>
public sealed class NginxTests : IAsyncLifetime
{
    private readonly Nginx _nginx = new();

    public Task InitializeAsync() => Tools.SkipReason(["nginx"]) is null ? _nginx.InitializeAsync() : Task.CompletedTask;

    public Task DisposeAsync() => _nginx.DisposeAsync();

    [ToolFact("nginx")]
    public async Task StaticFile_AndReturn200()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());

        var file = await http.GetStringAsync(TestPaths.UnixUrl(_nginx.Socket, "/static.txt")).DefaultTimeout();
        var returned = await http.GetStringAsync(TestPaths.UnixUrl(_nginx.Socket, "/return")).DefaultTimeout();
        var host = await http.GetStringAsync(TestPaths.UnixUrl(_nginx.Socket, "/host")).DefaultTimeout();

        Assert.Equal(Nginx.StaticText, file);
        Assert.Equal("nginx return 200\n", returned);
        Assert.Equal("localhost HTTP/1.1\n", host);
    }

    [ToolFact("nginx")]
    public async Task Gzip_IsDecompressed_BySocketsHttpHandler()
    {
        var url = TestPaths.UnixUrl(_nginx.Socket, "/large.txt");
        using var raw = new HttpClient(new UnixSocketHttpHandler());
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        using var compressed = await raw.SendAsync(request).DefaultTimeout();
        var decompressing = new UnixSocketHttpHandler(new UnixSocketClientOptions(),
            new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.All });
        using var http = new HttpClient(decompressing);

        using var response = await http.GetAsync(url).DefaultTimeout();

        // nginx does compress this file ...
        Assert.Equal(["gzip"], compressed.Content.Headers.ContentEncoding);
        Assert.True((await compressed.Content.ReadAsByteArrayAsync().DefaultTimeout()).Length < _nginx.LargeText.Length / 4);
        // ... and SocketsHttpHandler's decompression, kept by our handler, undoes it.
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Equal(_nginx.LargeText, await response.Content.ReadAsStringAsync().DefaultTimeout());
    }

    [ToolFact("nginx")]
    public async Task Http2PriorKnowledge_AgainstNginx()
    {
        using var http = new HttpClient(UnixSocketHttpHandler.Create(_nginx.Http2Socket, o => o.Http2PriorKnowledge = true))
        {
            BaseAddress = new("http://localhost"),
        };

        using var response = await http.GetAsync("/host").DefaultTimeout();
        var file = await http.GetStringAsync("/static.txt").DefaultTimeout();

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("localhost HTTP/2.0\n", await response.Content.ReadAsStringAsync().DefaultTimeout());
        Assert.Equal(Nginx.StaticText, file);
    }
}
