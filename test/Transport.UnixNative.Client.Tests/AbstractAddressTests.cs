using Microsoft.AspNetCore.Hosting;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>
/// Abstract addresses are named by the exact address length, not by NUL padding. socat, an outside peer,
/// listens on an abstract name and relays to our server: a padded address would name another socket
/// and the connect would be refused.
/// </summary>
public sealed class AbstractAddressTests
{
    [ToolFact("socat")]
    public async Task ReachesSocatAbstractListen_ExactLength()
    {
        var path = TestPaths.SocketPath();
        var address = TestPaths.AbstractAddress();
        await using var server = await TestServer.StartAsync("behind-socat", k => k.ListenUnixSocket(path), ServerTransport.Native, path);
        await using var socat = ExternalProcess.Start(Tools.Require("socat"),
            ["-d", "-d", $"ABSTRACT-LISTEN:{address[1..]},fork", $"UNIX-CONNECT:{path}"]);
        await socat.WaitForLineAsync(line => line.Contains("listening on", StringComparison.Ordinal));
        using var http = new HttpClient(new UnixSocketHttpHandler());

        var whoami = await http.GetStringAsync(TestPaths.UnixUrl(address, "/whoami")).DefaultTimeout();

        Assert.StartsWith("behind-socat localhost HTTP/1.1", whoami);
    }

    [ToolFact("curl")]
    public async Task CurlAndOurClient_ReachTheSameAbstractServer()
    {
        var address = TestPaths.AbstractAddress();
        await using var server = await TestServer.StartAsync("abstract", k => k.ListenUnixAbstract(address));
        using var http = new HttpClient(UnixSocketHttpHandler.Create(address)) { BaseAddress = new("http://localhost") };

        var ours = await http.GetStringAsync("/plaintext").DefaultTimeout();
        var curl = await ProcessRunner.RunAsync(Tools.Require("curl"), ["-sS", "--abstract-unix-socket", address[1..], "http://localhost/plaintext"]);

        Assert.Equal("Hello, World!", ours);
        Assert.True(curl.ExitCode == 0, curl.ToString());
        Assert.Equal("Hello, World!", curl.StandardOutput.TrimEnd('\n'));
    }

    [Fact]
    public async Task LongestAbstractName_107Bytes_Works()
    {
        var address = TestPaths.AbstractAddress();
        address += new string('n', 108 - address.Length); // '@' + 107 bytes
        await using var server = await TestServer.StartAsync("longest", k => k.ListenUnixAbstract(address));
        using var http = new HttpClient(new UnixSocketHttpHandler());

        Assert.Equal("Hello, World!", await http.GetStringAsync(TestPaths.UnixUrl(address, "/plaintext")).DefaultTimeout());
    }
}
