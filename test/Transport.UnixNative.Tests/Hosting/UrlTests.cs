using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Hosting;

/// <summary>What <c>--urls</c> means once the transport is on, and that TCP endpoints stay with Kestrel's Sockets transport.</summary>
public class UrlTests
{
    [ToolFact("curl")]
    public async Task Urls_AtName_ServesAbstractAddressAndNoTcpPort80()
    {
        var name = TestPaths.AbstractName();
        await using var host = await SampleHost.StartAsync(new HostSpec { Urls = $"http://unix:@{name}" });

        var (status, body) = await Curl.GetAsync("@" + name, "/plaintext");
        Assert.Equal(200, status);
        Assert.Equal("Hello, World!", body);
        Assert.StartsWith("UDS", Assert.Single(host.Connections.All).Id, StringComparison.Ordinal);

        // Stock Kestrel reads "unix:@name" as host "unix" and listens on TCP [::]:80 instead.
        Assert.DoesNotContain(host.Addresses, a => a.Contains(":80", StringComparison.Ordinal));
        Assert.Empty(TcpListenersOfThisProcess(port: 80));

        // The probe itself sees a TCP listener of this process, so the empty result above means something.
        using var control = new TcpListener(IPAddress.IPv6Any, 0);
        control.Start();
        Assert.NotEmpty(TcpListenersOfThisProcess(((IPEndPoint)control.LocalEndpoint).Port));
        Assert.False(File.Exists("@" + name));
    }

    [Fact]
    public async Task Urls_UnixPathAndTcp_BothServed_TcpByKestrelSockets()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        await using var host = await SampleHost.StartAsync(new HostSpec { Urls = $"http://unix:{path};http://127.0.0.1:0" });

        var native = host.Services.GetServices<IConnectionListenerFactory>().OfType<UnixNativeTransportFactory>().Single();
        Assert.False(native.CanBind(new IPEndPoint(IPAddress.Loopback, 5080)));
        Assert.False(native.CanBind(new IPEndPoint(IPAddress.IPv6Any, 80)));
        Assert.True(native.CanBind(new UnixDomainSocketEndPoint(path)));

        var tcpAddress = Assert.Single(host.Addresses, a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));
        Assert.DoesNotContain(":0", tcpAddress[^2..], StringComparison.Ordinal);
        using (var tcp = UnixClient.CreateTcpClient(new Uri(tcpAddress)))
        using (var response = await tcp.GetAsync("/plaintext").DefaultTimeout())
        {
            Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync().DefaultTimeout());
            var id = Assert.Single(response.Headers.GetValues("X-Connection-Id"));
            Assert.DoesNotContain("UnixNative", host.Connections.Get(id).TransportType, StringComparison.Ordinal);
            Assert.IsType<IPEndPoint>(host.Connections.Get(id).RemoteEndPoint);
        }

        using var unix = UnixClient.CreateHttpClient(new ServerAddress(path));
        using var unixResponse = await unix.GetAsync("/plaintext").DefaultTimeout();
        Assert.Equal("Hello, World!", await unixResponse.Content.ReadAsStringAsync().DefaultTimeout());
        var unixId = Assert.Single(unixResponse.Headers.GetValues("X-Connection-Id"));
        Assert.Equal("Transport.UnixNative.Core.Connection.UnixConnection", host.Connections.Get(unixId).TransportType);
    }

    /// <summary>Listening TCP sockets on <paramref name="port"/> whose inode is one of this process's descriptors.</summary>
    internal static List<string> TcpListenersOfThisProcess(int port)
    {
        var ourSockets = new HashSet<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                var target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    ourSockets.Add(target[8..^1]);
                }
            }
            catch (IOException)
            {
                // A descriptor closed while we looked.
            }
        }
        var found = new List<string>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st ... inode: state 0A is LISTEN.
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var localPort = int.Parse(fields[1].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (fields[3] == "0A" && localPort == port && ourSockets.Contains(fields[9]))
                {
                    found.Add($"{table}: {line.Trim()}");
                }
            }
        }
        return found;
    }
}
