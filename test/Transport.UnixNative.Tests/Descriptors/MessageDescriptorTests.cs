using System.Runtime.InteropServices;
using System.Text;
using Transport.UnixNative.Client;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Tests.Seqpacket;

namespace Transport.UnixNative.Tests.Descriptors;

/// <summary>Descriptors with whole messages (ListenUnixSeqpacketMessages), against Python and our own message client.</summary>
public sealed class MessageDescriptorTests
{
    internal const string Python = """
        import socket, sys, os, hashlib
        def connect(address, kind=socket.SOCK_SEQPACKET):
            s = socket.socket(socket.AF_UNIX, kind)
            s.settimeout(30)
            s.connect('\0' + address[1:] if address.startswith('@') else address)
            return s
        """;

    [ToolFact("python3")]
    public async Task Python_SendsDescriptorsWithAMessage_HandlerReadsTheFileThroughThem()
    {
        await using var host = await DescriptorHost.StartAsync();
        using var file = TestFiles.Create("read me through the descriptor\n");

        var output = await PythonPeer.RunAsync(Python + """

            s = connect(sys.argv[1])
            f = open(sys.argv[2], 'rb')
            f.seek(5)  # the server reads from offset 0 whatever our offset is
            socket.send_fds(s, [b'sha256'], [f.fileno(), f.fileno()])
            print(s.recv(256).decode())
            s.send(b'sha256')  # none this time: descriptors belong to their own message only
            print(s.recv(256).decode())
            """, host.MessagesAddress, file.Path);

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"{TestFiles.Sha256Of("read me through the descriptor\n")} count:2", lines[0]);
        Assert.Equal("count:0", lines[1]);
    }

    [ToolFact("python3")]
    public async Task Python_ReceivesDescriptorsTheServerSent()
    {
        await using var host = await DescriptorHost.StartAsync();

        var output = await PythonPeer.RunAsync(Python + """

            s = connect(sys.argv[1])
            s.send(b'send:3')
            msg, fds, flags, _ = socket.recv_fds(s, 256, 8)
            assert not (flags & socket.MSG_CTRUNC)
            print(msg.decode(), len(fds), os.pread(fds[0], 64, 0).decode(), end='')
            """, host.MessagesAddress);

        Assert.Equal("here 3 from the server\n", output);
    }

    [Fact]
    public async Task SendAsync_MoreThan253Descriptors_IsRefusedWithTheLimitNamed()
    {
        await using var host = await DescriptorHost.StartAsync();
        using var client = await UnixMessageClient.ConnectAsync(host.MessagesAddress).DefaultTimeout();

        await client.SendAsync("send:254"u8.ToArray()).DefaultTimeout();
        var refused = Encoding.UTF8.GetString((await client.ReceiveAsync().DefaultTimeout())!);
        await client.SendAsync("send:253"u8.ToArray()).DefaultTimeout();
        var received = new List<SafeHandle>();
        var accepted = await client.ReceiveAsync(received).DefaultTimeout();

        Assert.Contains("at most 253 descriptors", refused);
        Assert.Contains("SCM_MAX_FD", refused);
        Assert.Equal("here", Encoding.ASCII.GetString(accepted!));
        Assert.Equal(253, received.Count);
        received.ForEach(h => h.Dispose());
    }

    [ToolFact("python3")]
    public async Task MoreDescriptorsThanAReceiveTakes_AbortsTheConnection_WithALoggedError()
    {
        // A receive takes SCM_MAX_FD descriptors, so the kernel never truncates; lower it to see MSG_CTRUNC handled.
        await using var host = await DescriptorHost.StartAsync(o => o.DescriptorsPerReceive = 2);

        var output = await PythonPeer.RunAsync(Python + """

            s = connect(sys.argv[1])
            socket.send_fds(s, [b'x'], [0, 1])      # fits
            print(s.recv(256).decode())
            socket.send_fds(s, [b'x'], [0, 1, 2, 0]) # does not
            print(repr(s.recv(256)))                 # b'': the server closed the connection
            """, host.MessagesAddress);

        Assert.Equal("ok:2\nb''\n", output);
        Assert.Contains(host.Logs.Entries, e => e.Id.Id == 100 && e.Level == Microsoft.Extensions.Logging.LogLevel.Error && e.Message.Contains("MSG_CTRUNC", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TenThousandMessagesWithDescriptors_NoneLeak_TakenOrNot()
    {
        await using var host = await DescriptorHost.StartAsync();
        using var file = TestFiles.Memory("x");
        using var client = await UnixMessageClient.ConnectAsync(host.MessagesAddress).DefaultTimeout();

        for (var i = 0; i < 5_000; i++)
        {
            Assert.Equal("ok:1", await RoundTripAsync(client, "taken", file)); // the handler takes and disposes it
        }
        Assert.Equal("ok:plain", await RoundTripAsync(client, "plain", null));
        for (var i = 0; i < 5_000; i++)
        {
            // ReceiveAsync without a list closes it before returning the message, so before the reply:
            // a copy left for the garbage collector to close would still be open here.
            Assert.Equal("ok:0", await RoundTripAsync(client, "untaken", file));
            if (i % 500 == 0)
            {
                Assert.Equal(1, TestFiles.OpenCopies(file));
            }
        }
        Assert.Equal(1, TestFiles.OpenCopies(file));
    }

    [Fact]
    public async Task DescriptorsOfMessagesNeverRead_AreClosedWithTheConnection()
    {
        await using var host = await DescriptorHost.StartAsync();
        using var file = TestFiles.Memory("x");
        using (var client = await UnixMessageClient.ConnectAsync(host.MessagesAddress).DefaultTimeout())
        {
            Assert.Equal("ok:hold", await RoundTripAsync(client, "hold", null));
            for (var i = 0; i < 200; i++)
            {
                await client.SendAsync("x"u8.ToArray(), [file]).DefaultTimeout();
            }
            // The server holds them (in the kernel's queue or ours) while the connection lives.
            Assert.True(await Poll.UntilAsync(() => TestFiles.OpenCopies(file) == 201), $"{TestFiles.OpenCopies(file)} copies open");
        }
        // The transport logs the close after releasing the connection's descriptors: check then, once, so
        // that copies merely left to the garbage collector's finalizers would still be counted.
        Assert.True(await Poll.UntilAsync(() => host.Logs.Entries.Any(e => e.Id.Id == 1 && e.Message.EndsWith("closed.", StringComparison.Ordinal))), "the connection never closed");
        Assert.Equal(1, TestFiles.OpenCopies(file));
    }

    private static async Task<string> RoundTripAsync(UnixMessageClient client, string message, SafeHandle? descriptor)
    {
        await client.SendAsync(Encoding.ASCII.GetBytes(message), descriptor is null ? null : [descriptor]).DefaultTimeout();
        return Encoding.ASCII.GetString((await client.ReceiveAsync().DefaultTimeout())!);
    }
}
