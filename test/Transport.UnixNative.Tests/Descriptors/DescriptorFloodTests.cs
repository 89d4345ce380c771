using System.Diagnostics;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Tests.Core.Listener;
using Transport.UnixNative.Tests.Seqpacket;

namespace Transport.UnixNative.Tests.Descriptors;

/// <summary>
/// The flood of issue 20 against the sample (which opts in to descriptors for <c>POST /files/sha256</c>) in a
/// child process under a lowered <c>RLIMIT_NOFILE</c>: about 60 connections each hold a request open and attach
/// 253 descriptors to each of several pipelined writes nobody takes, then top up one at a time. Before the
/// budget the table filled (7,368 of 8,192 held here, the process aborting in the issue's runs); now the
/// server holds no more than its budget, stays up, and a plain client is served throughout.
/// </summary>
[Collection(nameof(ProcessResourcesCollection))]
public class DescriptorFloodTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int DescriptorLimit = 2048;
    private const int Budget = DescriptorLimit / 4; // the default: a quarter of the soft limit
    private const int UserShare = Budget / 2; // the default: the flood is one user, held to half the budget

    internal const string Flood = """
        import socket, sys, os
        path, conns, writes, topups = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        null = os.open('/dev/null', os.O_RDONLY)
        req = b'GET /wait/86400 HTTP/1.1\r\nHost: x\r\n\r\n'
        socks, sent, failed = [], 0, 0
        for i in range(conns):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5); s.connect(path)
                s.sendall(req)
                for j in range(writes):
                    socket.send_fds(s, [req], [null] * 253); sent += 253
                socks.append(s)
            except OSError:
                failed += 1
            print('connection', i, flush=True)
        for r in range(topups):
            for s in list(socks):
                try:
                    socket.send_fds(s, [req], [null]); sent += 1
                except OSError:
                    failed += 1; socks.remove(s)
        print('flooded sent=%d failed=%d' % (sent, failed), flush=True)
        sys.stdin.readline()  # everything stays open until the test is done
        """;

    [ToolFact("python3", "prlimit", "curl")]
    public async Task DescriptorFlood_HeldStaysWithinTheBudget_ServerSurvives_PlainClientsServedThroughout()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        paths.Add(path + ".lock");
        await using var server = DescriptorExhaustionTests.ChildServer.Start(path, DescriptorLimit);
        await server.WaitForLineAsync("Try:");
        Assert.Equal((200, "Hello, World!"), await Curl.GetAsync(path, "/plaintext")); // the runtime has loaded what serving needs
        var baseline = Directory.GetFiles($"/proc/{server.Pid}/fd").Length;

        using var flood = Process.Start(new ProcessStartInfo("python3", ["-c", Flood, path, "60", "4", "3"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var peak = baseline;
        var served = 0;
        try
        {
            // A plain client after every connection of the flood and once it is over, counting descriptors each time.
            while (await flood.StandardOutput.ReadLineAsync().DefaultTimeout() is { } line)
            {
                Assert.False(server.HasExited, $"the server died during the flood:\n{server.Output}");
                peak = Math.Max(peak, Directory.GetFiles($"/proc/{server.Pid}/fd").Length);
                var (status, body) = await Curl.GetAsync(path, "/plaintext");
                Assert.True(status == 200 && body == "Hello, World!", $"a plain client was refused during the flood ({line}): {status} {body}");
                served++;
                if (line.StartsWith("flooded", StringComparison.Ordinal))
                {
                    output.WriteLine(line);
                    break;
                }
            }
            peak = Math.Max(peak, Directory.GetFiles($"/proc/{server.Pid}/fd").Length);
            output.WriteLine($"RLIMIT_NOFILE {DescriptorLimit}, budget {Budget}: descriptors before {baseline}, peak {peak}; plain requests served {served} of {served}");

            Assert.False(server.HasExited, server.Output);
            // The flooding user's share of the budget, plus a little for what the runtime itself opens meanwhile (threads, assemblies).
            Assert.True(peak <= baseline + UserShare + 32, $"the server held {peak} descriptors (baseline {baseline}, budget {Budget}, user share {UserShare})");
            Assert.Equal(61, served);
            var lines = server.Lines();
            Assert.Contains(lines, l => l.Contains($"share of {UserShare} received descriptors (MaxReceivedDescriptorsPerUser)", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.Contains("errno 0", StringComparison.Ordinal));
        }
        finally
        {
            flood.StandardInput.Close(); // the flood's connections close: what they left comes back
            await flood.WaitForExitAsync().DefaultTimeout();
        }

        // Released descriptors return to the budget: a file sent now is hashed, and the table is back near its baseline.
        using var file = Descriptors.TestFiles.Create("after the flood\n");
        var hashed = await PythonPeer.RunAsync("""
            import socket, sys
            f = open(sys.argv[2], 'rb')
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(30); s.connect(sys.argv[1])
            socket.send_fds(s, [b'POST /files/sha256 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'], [f.fileno()])
            data = b''
            while chunk := s.recv(65536):
                data += chunk
            print(data.split(b'\r\n\r\n', 1)[1].decode())
            """, path, file.Path);
        Assert.Contains(Descriptors.TestFiles.Sha256Of("after the flood\n")["sha256:".Length..], hashed);
        Assert.True(await Poll.UntilAsync(() => Directory.GetFiles($"/proc/{server.Pid}/fd").Length <= baseline + 32),
            $"{Directory.GetFiles($"/proc/{server.Pid}/fd").Length} descriptors open after the flood (baseline {baseline})");
    }
}
