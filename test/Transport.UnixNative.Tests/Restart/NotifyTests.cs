using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Restart;

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
        using var receiver = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        receiver.Bind(new UnixDomainSocketEndPoint(notify));

        await using var sample = SampleChild.Start(home.Path, [], ["--urls", $"http://unix:{socket}"], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify });

        Assert.Equal("READY=1", await ReceiveAsync(receiver));
        // READY=1 comes once the application has started: the socket serves by then.
        Assert.Equal(sample.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
        sample.Terminate();
        Assert.Equal("STOPPING=1", await ReceiveAsync(receiver));
        Assert.Equal(0, await sample.WaitForExitAsync());
    }

    [Fact]
    public async Task FdStore_GivesSystemdTheListeningSocket_AndKeepsItsFile()
    {
        using var home = new TempSocketDirectory();
        var notify = home.PathOf("notify");
        var socket = home.PathOf("s.sock");
        using var receiver = BindDatagram(notify);

        await using var sample = SampleChild.Start(home.Path, [], ["--urls", $"http://unix:{socket}", "--fdstore"], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify });

        var stored = new List<SafeFdHandle>();
        try
        {
            string message;
            do
            {
                message = await TimeoutExtensions.DefaultTimeout(Task.Run(() => ReceiveWithDescriptors(receiver, stored)));
            }
            while (!message.StartsWith("FDSTORE=1", StringComparison.Ordinal));
            Assert.Equal("FDSTORE=1\nFDNAME=unix\n", message);
            var descriptor = Assert.Single(stored);
            Assert.True(InheritedSocket.TryGetAddress(descriptor.Fd, out var address));
            Assert.Equal((socket, false, false), (address.Name, address.IsAbstract, address.IsSeqpacket));

            sample.Terminate();
            Assert.Equal(0, await sample.WaitForExitAsync());
            Assert.True(File.Exists(socket), "the next process of the service serves the stored socket: its file stays");
        }
        finally
        {
            foreach (var fd in stored)
            {
                fd.Dispose();
            }
            File.Delete(socket);
        }
    }

    private static unsafe SafeFdHandle BindDatagram(string path)
    {
        var handle = Interop.Socket.Create(Interop.Socket.AF_UNIX, 2 /* SOCK_DGRAM */);
        Span<byte> address = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(false, path, address);
        fixed (byte* p = address)
        {
            Assert.Equal(0, Interop.Socket.bind(handle, p, length));
        }
        return handle;
    }

    private static string ReceiveWithDescriptors(SafeFdHandle receiver, List<SafeFdHandle> descriptors)
    {
        var buffer = new byte[4096];
        while (true)
        {
            Assert.Equal(0, Interop.Poll.WaitAny([receiver], Interop.Poll.POLLIN, TimeSpan.FromSeconds(30), out _));
            var n = Message.ReceiveWithDescriptors(receiver, buffer, 4, descriptors, out _, out var errno);
            if (n >= 0)
            {
                return Encoding.UTF8.GetString(buffer, 0, (int)n);
            }
            Assert.Equal(Libc.EAGAIN, errno);
        }
    }

    private static async Task<string> ReceiveAsync(System.Net.Sockets.Socket receiver)
    {
        var buffer = new byte[4096];
        var n = await TimeoutExtensions.DefaultTimeout(receiver.ReceiveAsync(buffer, SocketFlags.None));
        return Encoding.UTF8.GetString(buffer, 0, n).Trim();
    }
}
