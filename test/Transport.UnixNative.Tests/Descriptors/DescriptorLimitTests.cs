using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Tests.Core.Listener;
using Transport.UnixNative.Tests.Seqpacket;

namespace Transport.UnixNative.Tests.Descriptors;

/// <summary>
/// Which endpoints receive descriptors (none unless they opt in), and the limits where they do: per connection on
/// stream and message endpoints, and the process-wide budget.
/// </summary>
public sealed class DescriptorLimitTests
{
    // Python helpers: the server's copies of a file (its descriptors pointing at that path, read from /proc).
    internal const string Python = HttpDescriptorTests.Python + "\n" + """
        import time
        def copies(pid, target):
            n = 0
            for fd in os.listdir('/proc/%d/fd' % pid):
                try:
                    n += os.readlink('/proc/%d/fd/%s' % (pid, fd)) == target
                except OSError:
                    pass
            return n
        def get(path):
            return b'GET ' + path + b' HTTP/1.1\r\nHost: x\r\n\r\n'
        """;

    // One sendmsg carries a whole request and the start of the next, with 253 descriptors: they belong to the
    // second (the read's last byte), which stays unfinished, so nobody takes them. The first response proves the
    // server read that sendmsg. Then the server's copies are counted, and the second request is finished.
    private const string HeldByAnUnfinishedRequest = Python + """

        s = connect(sys.argv[1], socket.SOCK_STREAM)
        f = open(sys.argv[2], 'rb')
        socket.send_fds(s, [get(b'/fd/count') + b'GET /fd/count HTTP/1.1\r\n'], [f.fileno()] * 253)
        first = responses(s, 1)[0]
        held = copies(int(sys.argv[3]), os.path.realpath(sys.argv[2]))
        s.send(b'Host: x\r\n\r\n')
        print(first, held, responses(s, 1)[0])
        """;

    /// <summary>The one warning or error logged (listed in the failure otherwise).</summary>
    internal static (Microsoft.Extensions.Logging.LogLevel Level, Microsoft.Extensions.Logging.EventId Id, string Message) OneWarning(DescriptorHost host)
    {
        var lines = host.Logs.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning).ToArray();
        Assert.True(lines.Length == 1, string.Join("\n", lines.Select(l => $"{l.Id.Id} {l.Message}")));
        return lines[0];
    }

    [ToolFact("python3")]
    public async Task AnEndpointThatDidNotOptIn_ServesTheRequestAsIfNoneCame_AndHoldsNone()
    {
        await using var host = await DescriptorHost.StartAsync(o => o.ReceiveDescriptorsOn.Clear());
        using var file = TestFiles.Create("x");

        var output = await PythonPeer.RunAsync(HeldByAnUnfinishedRequest, host.StreamPath, file.Path, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Both requests answered on the same connection, no feature offered, and not one copy held meanwhile.
        Assert.Equal("count:none 0 count:none", output.Trim());
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    [ToolFact("python3")]
    public async Task AnEndpointThatOptedIn_HoldsThemForTheRequestTheyCameWith()
    {
        await using var host = await DescriptorHost.StartAsync();
        using var file = TestFiles.Create("x");

        var output = await PythonPeer.RunAsync(HeldByAnUnfinishedRequest, host.StreamPath, file.Path, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal("count:0 253 count:253", output.Trim());
    }

    [ToolFact("python3")]
    public async Task AMessageEndpoint_CutsAPeerOverItsPerConnectionCap_WithOneLine_AndServesOthers()
    {
        await using var host = await DescriptorHost.StartAsync(o => o.MaxReceivedDescriptorsPerConnection = 10);

        var output = await PythonPeer.RunAsync(Python + """

            s = connect(sys.argv[1]); s.settimeout(10)
            s.send(b'hold'); print(s.recv(256).decode())     # the handler reads no further: descriptors pile up
            for i in range(3):
                socket.send_fds(s, [b'x'], [0] * 4)          # 12 in all; 10 may be held
            print(repr(s.recv(256)))                         # b'': cut
            t = connect(sys.argv[1])
            socket.send_fds(t, [b'x'], [0] * 4); print(t.recv(256).decode())
            """, host.MessagesAddress);

        Assert.Equal("ok:hold\nb''\nok:4\n", output);
        var line = OneWarning(host);
        Assert.Equal(101, line.Id.Id);
        Assert.Contains("more than 10 descriptors", line.Message);
        Assert.Contains("MaxReceivedDescriptorsPerConnection", line.Message);
    }

    [ToolFact("python3")]
    public async Task ACutForDescriptors_LogsItsReasonOnly_NeverAnErrnoOfZero()
    {
        await using var host = await DescriptorHost.StartAsync(o => o.MaxReceivedDescriptorsPerConnection = 5);

        var output = await PythonPeer.RunAsync(Python + """

            s = connect(sys.argv[1], socket.SOCK_STREAM)
            socket.send_fds(s, [b'GET /fd/count HTTP/1.1\r\n'], [0] * 6)
            print(repr(s.recv(256)))
            """, host.StreamPath);

        Assert.Equal("b''", output.Trim());
        Assert.True(await Poll.UntilAsync(() => host.Logs.Entries.Any(e => e.Id.Id == 1 && e.Message.EndsWith("closed.", StringComparison.Ordinal))), "the connection never closed");
        var line = OneWarning(host);
        Assert.Equal(101, line.Id.Id);
        // Before, a second line: "failed." (event 4) with "recvmsg failed: errno 0 (Success)".
        Assert.DoesNotContain(host.Logs.Entries, e => e.Id.Id == 4);
    }
}

/// <summary>The process-wide budget: alone, since every connection in this process counts against it.</summary>
[Collection(nameof(ProcessResourcesCollection))]
public sealed class DescriptorBudgetTests
{
    [ToolFact("python3")]
    public async Task TheBudget_CountsAcrossConnections_CutsThePeerThatExceedsIt_AndComesBackWhenReleased()
    {
        // One user (root) sends them all: its share is the whole budget here, so the budget is what binds.
        await using var host = await DescriptorHost.StartAsync(o => (o.MaxReceivedDescriptors, o.MaxReceivedDescriptorsPerUser) = (8, 8));
        using var file = TestFiles.Create("x");
        Assert.Equal(0, HeldDescriptors.ProcessHeld);

        var output = await PythonPeer.RunAsync(DescriptorLimitTests.Python + """

            stream, messages, pid, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
            f = open(path, 'rb')
            # A holds 5 on a stream connection (for its unfinished second request); its first response proves they arrived.
            a = connect(stream, socket.SOCK_STREAM)
            socket.send_fds(a, [get(b'/fd/count') + b'GET /fd/count HTTP/1.1\r\n'], [f.fileno()] * 5)
            print(responses(a, 1)[0])
            # B, on the message endpoint, sends 5 more: only 3 are left of the budget of 8.
            b = connect(messages); b.settimeout(10)
            b.send(b'hold'); print(b.recv(256).decode())
            socket.send_fds(b, [b'x'], [f.fileno()] * 5)
            print(repr(b.recv(256)))
            # C, without descriptors, is served; A carries on with its 5.
            c = connect(messages); c.send(b'x'); print(c.recv(256).decode())
            a.send(b'Host: x\r\n\r\n'); print(responses(a, 1)[0])
            # A's request ended: once its 5 are closed (polled from /proc) they are back in the budget, all 8 of it.
            deadline = time.time() + 30
            while copies(pid, os.path.realpath(path)) and time.time() < deadline:
                time.sleep(0.01)
            d = connect(messages); socket.send_fds(d, [b'x'], [f.fileno()] * 8); print(d.recv(256).decode())
            """, host.StreamPath, host.MessagesAddress, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), file.Path);

        Assert.Equal("count:0\nok:hold\nb''\nok:0\ncount:5\nok:8\n", output);
        var line = DescriptorLimitTests.OneWarning(host);
        Assert.Equal(102, line.Id.Id);
        Assert.Contains("budget of 8 received descriptors (MaxReceivedDescriptors)", line.Message);
        await host.DisposeAsync();
        Assert.Equal(0, HeldDescriptors.ProcessHeld);
    }

    [ToolFact("python3")]
    public async Task OutOfDescriptors_APeersDescriptorsAreRefused_AndLoggedAsThat_NotAsThePeerSendingTooMany()
    {
        await using var host = await DescriptorHost.StartAsync();
        // As when an accept path has given its spare descriptors back to the runtime (see AcceptRetryTimer).
        HeldDescriptors.SetProcessShort(true);
        try
        {
            var output = await PythonPeer.RunAsync(DescriptorLimitTests.Python + """

                s = connect(sys.argv[1], socket.SOCK_STREAM)
                socket.send_fds(s, [get(b'/fd/count')], [0])
                print(repr(s.recv(256)))
                """, host.StreamPath);

            Assert.Equal("b''", output.Trim());
        }
        finally
        {
            HeldDescriptors.SetProcessShort(false);
        }
        var line = DescriptorLimitTests.OneWarning(host);
        Assert.Equal(103, line.Id.Id);
        Assert.Contains("the process is out of descriptors (EMFILE under RLIMIT_NOFILE", line.Message);
        Assert.DoesNotContain("253", line.Message);
    }
}
