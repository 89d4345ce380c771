using System.Security.Authentication;
using Microsoft.AspNetCore.Hosting;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>The expected server identity, checked with SO_PEERCRED right after connect.</summary>
public sealed class PeerCredentialTests : IAsyncLifetime
{
    private readonly string _abstract = TestPaths.AbstractAddress();
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync("creds", k => k.ListenUnixAbstract(_abstract));

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ExpectedUidAndGid_Match_RequestGoesThrough()
    {
        using var http = new HttpClient(UnixSocketHttpHandler.Create(_abstract, o =>
        {
            o.ExpectedServerUid = Native.geteuid();
            o.ExpectedServerGid = Native.getegid();
        }))
        { BaseAddress = new("http://localhost") };

        Assert.Equal("Hello, World!", await http.GetStringAsync("/plaintext").DefaultTimeout());
    }

    [Fact]
    public async Task ExpectedUid_Differs_RequestFailsClearly_AndNothingIsSent()
    {
        var otherUid = Native.geteuid() + 4242;
        using var http = new HttpClient(UnixSocketHttpHandler.Create(_abstract, o => o.ExpectedServerUid = otherUid))
        {
            BaseAddress = new("http://localhost"),
        };

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/plaintext")).DefaultTimeout();

        Assert.Contains($"'{_abstract}'", error.Message);
        Assert.Contains($"runs as uid {Native.geteuid()} gid {Native.getegid()}", error.Message);
        Assert.Contains($"uid {otherUid} was expected", error.Message);
        Assert.IsType<AuthenticationException>(error.InnerException);
    }

    [Fact]
    public async Task ExpectedGid_Differs_OnAnHttpUnixUrl_Fails()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler(new UnixSocketClientOptions { ExpectedServerGid = Native.getegid() + 1 }));

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(TestPaths.UnixUrl(_abstract, "/"))).DefaultTimeout();

        Assert.Contains($"gid {Native.getegid() + 1} was expected", error.Message);
    }
}
