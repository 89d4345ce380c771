using System.Net;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Client.Internal;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>
/// A host ending in <c>.unix.invalid</c> that the handler did not make itself must never reach a local
/// socket (server-side request forgery into /var/run/docker.sock), whether it comes from a redirect of a
/// TCP server or straight from a URL. And the HTTP/2 option leaves TCP requests and the caller's message alone.
/// </summary>
public sealed class RequestForgeryTests : IAsyncLifetime
{
    private readonly string _victimPath = TestPaths.SocketPath();
    private Socket _victim = null!;
    private TestServer _tcp = null!;

    public async Task InitializeAsync()
    {
        // The "docker.sock": a plain listening socket, so any connection that reaches it is visible.
        _victim = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _victim.Bind(new UnixDomainSocketEndPoint(_victimPath));
        _victim.Listen(16);
        _victim.Blocking = false;
        _tcp = await TestServer.StartAsync("tcp", k => k.Listen(IPAddress.Loopback, 0), ServerTransport.Sockets);
    }

    public async Task DisposeAsync()
    {
        await _tcp.DisposeAsync();
        _victim.Dispose();
        TestPaths.DeleteQuietly(_victimPath);
    }

    private string TcpBase => _tcp.Addresses.Single();

    private bool VictimWasReached => _victim.Poll(0, SelectMode.SelectRead);

    /// <summary>The host format of the first release: the address spelled out, nothing secret.</summary>
    private string OldStyleHost() => Convert.ToHexStringLower(Encoding.UTF8.GetBytes(_victimPath)) + ".stream" + UnixSocketPoolHosts.Suffix;

    [Fact]
    public async Task RedirectFromTcp_ToAForgedUnixHost_IsRefused()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());
        var evil = $"http://{OldStyleHost()}/containers/json";

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"{TcpBase}/redirect-to?url={Uri.EscapeDataString(evil)}").DefaultTimeout());

        Assert.Contains("Refusing", error.Message + error.InnerException?.Message, StringComparison.Ordinal);
        Assert.False(VictimWasReached, "the redirect reached the local socket");
    }

    [Fact]
    public async Task RedirectFromTcp_ToThisHandlersOwnHost_IsRefused()
    {
        // Even a host with a valid MAC (here the test knows the key) may not be reached by a redirect from TCP.
        var hosts = new UnixSocketPoolHosts();
        var options = new UnixSocketClientOptions();
        var sockets = new SocketsHttpHandler();
        UnixSocketHttpHandler.ConfigureSocketsHandler(sockets, options, hosts);
        using var http = new HttpClient(new UnixSocketHttpHandler(options, hosts) { InnerHandler = sockets });
        var valid = $"http://{hosts.HostFor(UnixSocketTarget.Parse(_victimPath, isSeqpacket: false))}/containers/json";

        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"{TcpBase}/redirect-to?url={Uri.EscapeDataString(valid)}").DefaultTimeout());

        Assert.False(VictimWasReached, "the redirect reached the local socket");
    }

    [Fact]
    public async Task ForgedUnixHost_InAUrl_IsRefused()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://{OldStyleHost()}/containers/json").DefaultTimeout());

        Assert.Contains("Refusing", error.Message + error.InnerException?.Message, StringComparison.Ordinal);
        Assert.False(VictimWasReached, "a typed URL reached the local socket");
    }

    [Fact]
    public async Task ForgedUnixHost_ThroughAPlainConnectCallback_IsRefused()
    {
        using var http = new HttpClient(new SocketsHttpHandler { ConnectCallback = UnixSocketConnectCallback.Create(new UnixSocketClientOptions()) });

        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://{OldStyleHost()}/containers/json").DefaultTimeout());

        Assert.False(VictimWasReached);
    }

    [Fact]
    public async Task Http2PriorKnowledge_LeavesTcpRequestsAlone_AndNeverChangesTheCallersMessage()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler(new UnixSocketClientOptions { Http2PriorKnowledge = true }));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{TcpBase}/whoami");

        // The TCP endpoint speaks HTTP/1.1 only: had the option upgraded the request, it would fail.
        using var response = await http.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Equal(HttpVersion.Version11, request.Version);
        Assert.Equal(HttpVersionPolicy.RequestVersionOrLower, request.VersionPolicy);
    }

    [Fact]
    public async Task UnixUrl_TheCallersMessage_IsNotChanged()
    {
        await using var server = await TestServer.StartAsync("unix", k => k.ListenUnixSocket(_victimPath + "2"), ServerTransport.Native, _victimPath + "2");
        using var http = new HttpClient(new UnixSocketHttpHandler(new UnixSocketClientOptions { Http2PriorKnowledge = false }));
        var url = TestPaths.UnixUrl(_victimPath + "2", "/redirect");
        using var request = new HttpRequestMessage(HttpMethod.Get, url);

        using var response = await http.SendAsync(request).DefaultTimeout();

        Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync().DefaultTimeout());
        Assert.Equal(url, request.RequestUri!.OriginalString);
        Assert.Null(request.Headers.Host);
        Assert.False(request.Options.TryGetValue(UnixSocketConnector.PoolHostOption, out _));
        // The response shows the URL it was answered from, in the http+unix form.
        Assert.Equal(TestPaths.UnixUrl(_victimPath + "2", "/plaintext?from=redirect"), response.RequestMessage!.RequestUri!.OriginalString);
    }

    [Fact]
    public async Task PlainClient_InAProcessThatMadeAHandler_ReturnsARedirectToAnHttpUnixUrl()
    {
        // A fresh process: in this one, TestPaths has registered the schemes for every test.
        var location = "http+unix://" + Uri.EscapeDataString(_victimPath) + "/containers/json";
        var url = $"{TcpBase}/redirect-to?url={Uri.EscapeDataString(location)}";

        var result = await ProcessRunner.RunAsync(ProcessRunner.Dotnet, ["exec", typeof(RequestForgeryTests).Assembly.Location, "plain-client-after-handler", url]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("status 302", result.StandardOutput, StringComparison.Ordinal);
        Assert.False(VictimWasReached, "the redirect reached the local socket");
    }

    [Fact]
    public async Task RedirectFromTcp_ToAnHttpUnixUrl_EndsAsHttpRequestException_EvenWithTheSchemesRegistered()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());
        var location = TestPaths.UnixUrl(_victimPath, "/containers/json"); // registers the schemes in this process

        var error = await Record.ExceptionAsync(() => http.GetAsync($"{TcpBase}/redirect-to?url={Uri.EscapeDataString(location)}").DefaultTimeout());

        Assert.IsType<HttpRequestException>(error);
        Assert.False(VictimWasReached, "the redirect reached the local socket");
    }

    [Fact]
    public async Task HandlerForOneSocket_RefusesAUrlNamingAnother()
    {
        var own = TestPaths.SocketPath();
        await using var server = await TestServer.StartAsync("unix", k => k.ListenUnixSocket(own), ServerTransport.Native, own);
        using var http = new HttpClient(UnixSocketHttpHandler.Create(own)) { BaseAddress = new("http://localhost/") };
        var userInput = TestPaths.UnixUrl(_victimPath, "/containers/json");

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(userInput).DefaultTimeout());

        Assert.Contains("Refusing", error.Message, StringComparison.Ordinal);
        Assert.Contains(_victimPath, error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(UnixSocketClientOptions.AllowOtherSockets), error.Message, StringComparison.Ordinal);
        Assert.False(VictimWasReached, "a URL from user input reached another socket");
        // Its own socket, by relative URL or by an http+unix URL naming it, still works.
        Assert.Equal("Hello, World!", await http.GetStringAsync("/plaintext").DefaultTimeout());
        Assert.Equal("Hello, World!", await http.GetStringAsync(TestPaths.UnixUrl(own, "/plaintext")).DefaultTimeout());
    }

    [Fact]
    public async Task HandlerForOneSocket_WithAllowOtherSockets_ReachesAnother()
    {
        var own = TestPaths.SocketPath();
        var other = TestPaths.SocketPath();
        await using var server = await TestServer.StartAsync("unix", k => k.ListenUnixSocket(other), ServerTransport.Native, other);
        using var http = new HttpClient(UnixSocketHttpHandler.Create(own, o => o.AllowOtherSockets = true));

        Assert.Equal("Hello, World!", await http.GetStringAsync(TestPaths.UnixUrl(other, "/plaintext")).DefaultTimeout());
    }

    [Fact]
    public async Task AddressTooLong_SocketErrorCode_IsARealSocketError_ErrnoKept()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());
        var tooLong = "/tmp/" + new string('x', 120);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(TestPaths.UnixUrl(tooLong, "/")).DefaultTimeout());

        var socketError = Assert.IsType<SocketException>(error.InnerException);
        Assert.True(Enum.IsDefined(socketError.SocketErrorCode), $"SocketErrorCode {(int)socketError.SocketErrorCode} is not a SocketError");
        Assert.Equal(SocketError.InvalidArgument, socketError.SocketErrorCode);
        Assert.Equal(36, socketError.Data["errno"]); // ENAMETOOLONG
        Assert.Contains("ENAMETOOLONG", socketError.Message, StringComparison.Ordinal);
    }
}
