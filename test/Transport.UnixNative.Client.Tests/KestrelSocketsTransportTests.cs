using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>The same app on Kestrel's own Sockets transport: the client is not tied to our server.</summary>
public sealed class KestrelSocketsTransportTests : IAsyncLifetime
{
    private readonly string _path = TestPaths.SocketPath();
    private readonly string _h2Path = TestPaths.SocketPath();
    private readonly string _abstract = TestPaths.AbstractAddress();
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync("kestrel-sockets", k =>
        {
            k.ListenUnixSocket(_path);
            k.ListenUnixSocket(_h2Path, o => o.Protocols = HttpProtocols.Http2);
            // Stock Kestrel reaches an abstract address only through a "\0name" endpoint.
            k.Listen(new UnixDomainSocketEndPoint("\0" + _abstract[1..]));
        }, ServerTransport.Sockets, _path, _h2Path);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("path")]
    [InlineData("abstract")]
    public async Task Http1_GetAndEcho(string kind)
    {
        var address = kind == "path" ? _path : _abstract;
        using var http = new HttpClient(new UnixSocketHttpHandler());
        var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(256 * 1024);

        var whoami = await http.GetStringAsync(TestPaths.UnixUrl(address, "/whoami")).DefaultTimeout();
        using var echo = await http.PostAsync(TestPaths.UnixUrl(address, "/echo"), new ByteArrayContent(payload)).DefaultTimeout();

        Assert.StartsWith("kestrel-sockets localhost HTTP/1.1", whoami);
        Assert.Equal(payload, await echo.Content.ReadAsByteArrayAsync().DefaultTimeout());
    }

    [Fact]
    public async Task Http2_PriorKnowledge_StreamsAndEchoes()
    {
        using var http = new HttpClient(UnixSocketHttpHandler.Create(_h2Path, o => o.Http2PriorKnowledge = true)) { BaseAddress = new("http://localhost") };

        using var response = await http.GetAsync("/stream?id=ks", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync().DefaultTimeout());
        Assert.Equal("first", await reader.ReadLineAsync().DefaultTimeout());
        _server.Release("ks");
        Assert.Equal("second", await reader.ReadLineAsync().DefaultTimeout());
        Assert.Equal(HttpVersion.Version20, response.Version);

        await PayloadContent.AssertEchoAsync(http, "/echo", 4 * 1024 * 1024);
    }
}
