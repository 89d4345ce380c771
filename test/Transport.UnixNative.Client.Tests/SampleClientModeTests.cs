using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>`WebOverUds client &lt;url&gt;`, run as its own process the way a person would run it.</summary>
public sealed class SampleClientModeTests : IAsyncLifetime
{
    private readonly string _path = TestPaths.SocketPath();
    private readonly string _h2Abstract = TestPaths.AbstractAddress();
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync("sample-client", k =>
        {
            k.ListenUnixSocket(_path);
            k.ListenUnixAbstract(_h2Abstract, o => o.Protocols = HttpProtocols.Http2);
            k.Listen(IPAddress.Loopback, 0);
        }, ServerTransport.Native, _path);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task PrintsTheBody_OfAnHttpUnixUrl()
    {
        var result = await SampleApp.RunClientAsync(TestPaths.UnixUrl(_path, "/plaintext"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("Hello, World!", result.StandardOutput.TrimEnd('\n'));
    }

    [Fact]
    public async Task Http2_ToAnAbstractAddress()
    {
        var result = await SampleApp.RunClientAsync(TestPaths.UnixUrl(_h2Abstract, "/whoami"), "--http2");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("sample-client localhost HTTP/2", result.StandardOutput);
    }

    [Fact]
    public async Task PrintsTheBody_OfAPlainHttpUrl()
    {
        var tcp = _server.Addresses.Single(a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));

        var result = await SampleApp.RunClientAsync(tcp + "/plaintext");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("Hello, World!", result.StandardOutput.TrimEnd('\n'));
    }

    [Fact]
    public async Task MissingSocket_ExitsNonZero_WithTheReasonOnStderr()
    {
        var missing = TestPaths.SocketPath();

        var result = await SampleApp.RunClientAsync(TestPaths.UnixUrl(missing, "/plaintext"));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"Cannot connect to unix socket '{missing}': ENOENT (No such file or directory)", result.StandardError);
        Assert.Empty(result.StandardOutput);
    }

    [Fact]
    public async Task NotFound_ExitsNonZero()
    {
        var result = await SampleApp.RunClientAsync(TestPaths.UnixUrl(_path, "/no-such-route"));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("HTTP 404", result.StandardError);
    }

    [Fact]
    public async Task NoUrl_PrintsUsage()
    {
        var result = await SampleApp.RunClientAsync();

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("usage: WebOverUds client <url>", result.StandardError);
    }
}
