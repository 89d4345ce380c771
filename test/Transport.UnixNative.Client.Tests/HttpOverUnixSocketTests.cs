using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>HTTP/1.1 through every public entry point, against our server on a path and an abstract address.</summary>
public sealed class HttpOverUnixSocketTests : IAsyncLifetime
{
    private readonly string _path = TestPaths.SocketPath();
    private readonly string _abstract = TestPaths.AbstractAddress();
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync("one", k =>
        {
            k.ListenUnixSocket(_path);
            k.ListenUnixAbstract(_abstract);
        }, ServerTransport.Native, _path);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string> Kinds => ["path", "abstract"];

    private string Address(string kind) => kind == "path" ? _path : _abstract;

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task HandlerFactory_SendsEveryRequestToTheSocket(string kind)
    {
        using var http = new HttpClient(UnixSocketHttpHandler.Create(Address(kind))) { BaseAddress = new("http://localhost") };

        var body = await http.GetStringAsync("/plaintext").DefaultTimeout();
        var whoami = (await http.GetStringAsync("/whoami").DefaultTimeout()).Split(' ');

        Assert.Equal("Hello, World!", body);
        Assert.Equal(["one", "localhost", "HTTP/1.1"], whoami[..3]);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task UnixUrl_NamesTheSocket_AndSendsHostLocalhost(string kind)
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());
        var url = TestPaths.UnixUrl(Address(kind), "/whoami");

        using var response = await http.GetAsync(url).DefaultTimeout();
        var whoami = (await response.Content.ReadAsStringAsync().DefaultTimeout()).Split(' ');

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["one", "localhost", "HTTP/1.1"], whoami[..3]);
        // The caller sees the URL it asked for, not the synthetic pool host.
        Assert.Equal(url, response.RequestMessage!.RequestUri!.OriginalString);
    }

    [Fact]
    public async Task UnixUrl_FollowsARelativeRedirect_OnTheSameSocket()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());

        using var response = await http.GetAsync(TestPaths.UnixUrl(_path, "/redirect")).DefaultTimeout();

        Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync().DefaultTimeout());
        Assert.Equal(TestPaths.UnixUrl(_path, "/plaintext?from=redirect"), response.RequestMessage!.RequestUri!.OriginalString);
    }

    [Fact]
    public async Task UnixUrl_BypassesAConfiguredProxy()
    {
        // Nothing listens on port 9 (discard): had the request gone to the proxy, it would fail.
        var sockets = new SocketsHttpHandler { UseProxy = true, Proxy = new WebProxy("http://127.0.0.1:9") };
        using var http = new HttpClient(new UnixSocketHttpHandler(new UnixSocketClientOptions(), sockets));

        Assert.Equal("Hello, World!", await http.GetStringAsync(TestPaths.UnixUrl(_path, "/plaintext")).DefaultTimeout());
        Assert.IsNotType<WebProxy>(sockets.Proxy);
    }

    [Fact]
    public async Task UnixUrl_KeepsAHostHeaderTheRequestSets()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());
        using var request = new HttpRequestMessage(HttpMethod.Get, TestPaths.UnixUrl(_path, "/whoami"));
        request.Headers.Host = "api.internal";

        using var response = await http.SendAsync(request).DefaultTimeout();
        var whoami = (await response.Content.ReadAsStringAsync().DefaultTimeout()).Split(' ');

        Assert.Equal("api.internal", whoami[1]);
    }

    [Fact]
    public async Task UnixUrl_WorksAsBaseAddress_WithQueryAndEscapedPath()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler()) { BaseAddress = new(TestPaths.UnixUrl(_path, "/")) };

        var stream = http.GetStringAsync("stream?id=base");
        _server.Release("base");

        Assert.Equal("first\nsecond\n", await stream.DefaultTimeout());
    }

    [Fact]
    public async Task PostEcho_RoundTripsAMegabyte()
    {
        using var http = new HttpClient(UnixSocketHttpHandler.Create(_path)) { BaseAddress = new("http://localhost") };
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);

        using var response = await http.PostAsync("/echo", new ByteArrayContent(payload)).DefaultTimeout();
        var echoed = await response.Content.ReadAsByteArrayAsync().DefaultTimeout();

        Assert.Equal(payload, echoed);
    }

    [Fact]
    public async Task SameSocket_ReusesOnePooledConnection()
    {
        using var http = new HttpClient(UnixSocketHttpHandler.Create(_path)) { BaseAddress = new("http://localhost") };

        var connections = new HashSet<string>();
        for (var i = 0; i < 5; i++)
        {
            connections.Add((await http.GetStringAsync("/whoami").DefaultTimeout()).Split(' ')[3]);
        }

        Assert.Single(connections);
    }

    [Fact]
    public async Task ConnectCallback_WorksInAnySocketsHttpHandler()
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = UnixSocketConnectCallback.Create(_abstract),
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.All,
        };
        using var http = new HttpClient(handler) { BaseAddress = new("http://localhost") };

        Assert.Equal("Hello, World!", await http.GetStringAsync("/plaintext").DefaultTimeout());
    }

    [Fact]
    public async Task HttpClientFactory_UseUnixSocket_SendsToTheSocket_AndAcceptsUnixUrls_WhenAllowed()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("sidecar", c => c.BaseAddress = new("http://localhost")).UseUnixSocket(_abstract, o => o.AllowOtherSockets = true);
        services.AddHttpClient("strict", c => c.BaseAddress = new("http://localhost")).UseUnixSocket(_abstract);
        await using var provider = services.BuildServiceProvider();
        var http = provider.GetRequiredService<IHttpClientFactory>().CreateClient("sidecar");
        var strict = provider.GetRequiredService<IHttpClientFactory>().CreateClient("strict");

        var viaDefault = await http.GetStringAsync("/whoami").DefaultTimeout();
        var viaUrl = await http.GetStringAsync(TestPaths.UnixUrl(_path, "/plaintext")).DefaultTimeout();

        Assert.StartsWith("one localhost HTTP/1.1", viaDefault);
        Assert.Equal("Hello, World!", viaUrl);
        // Without the opt-in, a client made for one socket refuses a URL naming another.
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => strict.GetStringAsync(TestPaths.UnixUrl(_path, "/plaintext")).DefaultTimeout());
        Assert.Contains("Refusing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SyncSend_Works()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());
        using var request = new HttpRequestMessage(HttpMethod.Get, TestPaths.UnixUrl(_path, "/plaintext"));

        using var response = http.Send(request);

        Assert.Equal("Hello, World!", new StreamReader(response.Content.ReadAsStream()).ReadToEnd());
    }
}

/// <summary>One HttpClient, several sockets: each gets its own connection pool.</summary>
public sealed class ConnectionPoolTests
{
    [Theory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task EachSocketHasItsOwnPool_AndHostStaysLocalhost(string version)
    {
        var pathA = TestPaths.SocketPath();
        var pathB = TestPaths.SocketPath();
        var protocols = version == "2.0" ? HttpProtocols.Http2 : HttpProtocols.Http1;
        await using var a = await TestServer.StartAsync("a", k => k.ListenUnixSocket(pathA, o => o.Protocols = protocols), ServerTransport.Native, pathA);
        await using var b = await TestServer.StartAsync("b", k => k.ListenUnixSocket(pathB, o => o.Protocols = protocols), ServerTransport.Native, pathB);
        using var http = new HttpClient(new UnixSocketHttpHandler())
        {
            DefaultRequestVersion = Version.Parse(version),
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var seen = new List<string[]>();
        for (var i = 0; i < 6; i++)
        {
            var path = i % 2 == 0 ? pathA : pathB;
            seen.Add((await http.GetStringAsync(TestPaths.UnixUrl(path, "/whoami")).DefaultTimeout()).Split(' '));
        }

        // Alternating requests reach the server they name; a shared pool would send some to the wrong one.
        Assert.Equal(["a", "b", "a", "b", "a", "b"], seen.Select(s => s[0]));
        Assert.All(seen, s => Assert.Equal("localhost", s[1]));
        Assert.All(seen, s => Assert.Equal(version == "2.0" ? "HTTP/2" : "HTTP/1.1", s[2]));
        // And each pool keeps its connection alive across requests.
        Assert.Single(seen.Where(s => s[0] == "a").Select(s => s[3]).Distinct());
        Assert.Single(seen.Where(s => s[0] == "b").Select(s => s[3]).Distinct());
    }

    [Fact]
    public async Task OneClient_ServesUnixUrlsAndPlainTcpUrls()
    {
        var path = TestPaths.SocketPath();
        await using var server = await TestServer.StartAsync("both", k =>
        {
            k.ListenUnixSocket(path);
            k.Listen(IPAddress.Loopback, 0);
        }, ServerTransport.Native, path);
        var tcp = server.Addresses.Single(a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));
        using var http = new HttpClient(new UnixSocketHttpHandler());

        var overUnix = await http.GetStringAsync(TestPaths.UnixUrl(path, "/whoami")).DefaultTimeout();
        var overTcp = await http.GetStringAsync(tcp + "/whoami").DefaultTimeout();

        Assert.StartsWith("both localhost HTTP/1.1", overUnix);
        Assert.StartsWith($"both {new Uri(tcp).Authority} HTTP/1.1", overTcp);
    }
}
