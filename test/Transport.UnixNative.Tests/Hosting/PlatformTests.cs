using Microsoft.Extensions.Logging;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Hosting;

/// <summary>
/// Not on Linux (pretended through the options' internal platform check): startup fails with one line
/// naming the OS and what to use instead, or, with FallBackToSocketsTransportOnUnsupportedOS, paths are
/// served by Kestrel's Sockets transport after one warning and what only Linux has fails naming it.
/// </summary>
public class PlatformTests
{
    private const string MacOS = "macOS (Darwin 24.1.0 test)";

    [Fact]
    public async Task NotLinux_StartupFails_OneLineNamingTheOSAndWhatToUse()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();

        var error = await Assert.ThrowsAsync<PlatformNotSupportedException>(() => SampleHost.StartAsync(new HostSpec
        {
            PlainHost = true,
            Listen = k => k.ListenUnixSocket(path),
            TransportOptions = o => o.UnsupportedOS = () => MacOS,
        }));

        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains($"runs on Linux only (epoll, SO_PEERCRED, abstract addresses); this is {MacOS}.", error.Message, StringComparison.Ordinal);
        Assert.Contains("Without UseUnixNativeTransport() Kestrel's Sockets transport serves unix socket paths", error.Message, StringComparison.Ordinal);
        Assert.Contains("FallBackToSocketsTransportOnUnsupportedOS", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task NotLinux_WithFallback_PathsServedByKestrelSockets_OneWarning()
    {
        using var paths = new TempPaths();
        var first = paths.SocketPath();
        var second = paths.SocketPath();
        await using var host = await SampleHost.StartAsync(new HostSpec
        {
            PlainHost = true,
            Urls = $"http://unix:{first};http://unix:{second}",
            TransportOptions = o =>
            {
                o.UnsupportedOS = () => MacOS;
                o.FallBackToSocketsTransportOnUnsupportedOS = true;
            },
        });

        foreach (var path in (string[])[first, second])
        {
            using var http = UnixClient.CreateHttpClient(new ServerAddress(path));
            using var response = await http.GetAsync("/plaintext").DefaultTimeout();
            Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync().DefaultTimeout());
            var id = Assert.Single(response.Headers.GetValues("X-Connection-Id"));
            Assert.DoesNotContain("UnixNative", host.Connections.Get(id).TransportType, StringComparison.Ordinal);
        }
        var warning = Assert.Single(host.Logs.Entries, e => e.Level >= LogLevel.Warning && e.Category == "Transport.UnixNative");
        Assert.Equal("FallBackToSocketsTransport", warning.EventId.Name);
        Assert.Contains(MacOS, warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abstract")]
    [InlineData("seqpacket")]
    public async Task NotLinux_WithFallback_LinuxOnlyEndpoint_FailsNamingAddressAndOS(string kind)
    {
        var name = "@" + TestPaths.AbstractName();

        var error = await Assert.ThrowsAsync<PlatformNotSupportedException>(() => SampleHost.StartAsync(new HostSpec
        {
            PlainHost = true,
            Urls = kind == "abstract" ? $"http://unix:{name}" : $"http://unix-seqpacket:{name}",
            TransportOptions = o =>
            {
                o.UnsupportedOS = () => MacOS;
                o.FallBackToSocketsTransportOnUnsupportedOS = true;
            },
        }));

        Assert.StartsWith($"Unix socket '{(kind == "abstract" ? name : "unix-seqpacket:" + name)}': ", error.Message, StringComparison.Ordinal);
        Assert.Contains($"need Linux; this is {MacOS}.", error.Message, StringComparison.Ordinal);
    }
}
