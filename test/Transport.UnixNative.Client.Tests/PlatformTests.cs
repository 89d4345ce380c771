using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Transport.UnixNative.Client.Internal;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>
/// Not on Linux (pretended for the test's own async flow): paths still work, and asking for what only
/// Linux has (abstract addresses, SOCK_SEQPACKET, the server's SO_PEERCRED) is a PlatformNotSupportedException
/// saying which and on what OS.
/// </summary>
public sealed class PlatformTests
{
    private const string MacOS = "Darwin 24.1.0 (test)";

    [Fact]
    public async Task NotLinux_PathsStillWork()
    {
        var path = TestPaths.SocketPath();
        await using var server = await TestServer.StartAsync("path", k => k.ListenUnixSocket(path), ServerTransport.Native, path);
        ClientPlatform.PretendedOS.Value = MacOS;
        try
        {
            using var http = new HttpClient(UnixSocketHttpHandler.Create(path)) { BaseAddress = new("http://localhost") };
            Assert.Equal("Hello, World!", await http.GetStringAsync("/plaintext").DefaultTimeout());
            using var byUrl = new HttpClient(new UnixSocketHttpHandler());
            Assert.Equal("Hello, World!", await byUrl.GetStringAsync(TestPaths.UnixUrl(path, "/plaintext")).DefaultTimeout());
        }
        finally
        {
            ClientPlatform.PretendedOS.Value = null;
        }
    }

    [Fact]
    public async Task NotLinux_LinuxOnlyFeatures_PlatformNotSupportedNamingThem()
    {
        ClientPlatform.PretendedOS.Value = MacOS;
        try
        {
            var error = Assert.Throws<PlatformNotSupportedException>(() => UnixSocketHttpHandler.Create("@agent"));
            Assert.Equal($"Abstract unix socket addresses ('@agent') need Linux; this is {MacOS}. Use a socket path.", error.Message);

            error = Assert.Throws<PlatformNotSupportedException>(() => UnixSocketHttpHandler.Create("/run/a.seq", o => o.SocketType = SocketType.Seqpacket));
            Assert.StartsWith($"SOCK_SEQPACKET unix sockets ('/run/a.seq') need Linux; this is {MacOS}.", error.Message, StringComparison.Ordinal);

            error = await Assert.ThrowsAsync<PlatformNotSupportedException>(() => UnixMessageClient.ConnectAsync("/run/a.seq").DefaultTimeout());
            Assert.Contains("SOCK_SEQPACKET", error.Message, StringComparison.Ordinal);

            error = Assert.Throws<PlatformNotSupportedException>(() => UnixSocketHttpHandler.Create("/run/a.sock", o => o.ExpectedServerUid = 0));
            Assert.StartsWith($"ExpectedServerUid/ExpectedServerGid (the server's credentials, SO_PEERCRED) need Linux; this is {MacOS}.", error.Message, StringComparison.Ordinal);

            using var http = new HttpClient(new UnixSocketHttpHandler());
            error = await Assert.ThrowsAsync<PlatformNotSupportedException>(() => http.GetAsync(TestPaths.UnixUrl("@agent", "/")).DefaultTimeout());
            Assert.Contains("('@agent') need Linux", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            ClientPlatform.PretendedOS.Value = null;
        }
    }
}
