using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Tests.Security;

namespace Transport.UnixNative.Tests.Restart;

/// <summary>sd_notify: with NOTIFY_SOCKET set (as systemd sets it for Type=notify), the sample reports READY=1 and STOPPING=1.</summary>
[SupportedOSPlatform("linux")]
public sealed class NotifyTests
{
    [Fact]
    public async Task NotifySocket_ReceivesReadyThenStopping()
    {
        using var home = new TempSocketDirectory();
        var notify = home.PathOf("notify");
        var socket = home.PathOf("s.sock");
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        receiver.Bind(new UnixDomainSocketEndPoint(notify));

        await using var sample = SampleChild.Start(home.Path, [], ["--urls", $"http://unix:{socket}"], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify });

        Assert.Equal("READY=1", await ReceiveAsync(receiver));
        // READY=1 comes once the application has started: the socket serves by then.
        Assert.Equal(sample.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
        sample.Terminate();
        Assert.Equal("STOPPING=1", await ReceiveAsync(receiver));
        Assert.Equal(0, await sample.WaitForExitAsync());
    }

    private static async Task<string> ReceiveAsync(Socket receiver)
    {
        var buffer = new byte[4096];
        var n = await TimeoutExtensions.DefaultTimeout(receiver.ReceiveAsync(buffer, SocketFlags.None));
        return Encoding.UTF8.GetString(buffer, 0, n).Trim();
    }
}
