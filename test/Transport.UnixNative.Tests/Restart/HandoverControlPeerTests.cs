using System.Diagnostics;
using System.Runtime.Versioning;
using Transport.UnixNative.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Transport.UnixNative.Tests.Restart;

/// <summary>
/// The hand-over control socket against peers of the same uid that misbehave (attach descriptors, go quiet),
/// and hand-over of an abstract control address, again and again.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class HandoverControlPeerTests(ITestOutputHelper output)
{
    private const string Python = "/usr/bin/python3";

    [ToolFact("python3")]
    public async Task DescriptorsAttachedToControlMessages_AreAllClosed()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("s.sock");
        var control = home.PathOf("h.ctl");
        await using var predecessor = await StartListeningForSuccessorAsync(home.Path, control, "--urls", $"http://unix:{socket}", "--handover", control);
        var before = DescriptorCount(predecessor.Pid);

        // 10 connections, 253 descriptors (the kernel's most per message) on each message: 5 attach them to an
        // unknown request, 5 to the message after TAKE. Each waits until the predecessor has closed its end.
        const string peer = """
            import os, socket, sys
            control = sys.argv[1]
            null = [os.open("/dev/null", os.O_RDONLY) for _ in range(253)]
            for i in range(10):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(control)
                try:
                    if i % 2 == 0:
                        socket.send_fds(s, [b"HELLO"], null)
                    else:
                        s.send(b"TAKE 2")
                        s.recv(65536)
                        socket.send_fds(s, [b"STARTING"], null)
                        socket.send_fds(s, [b"NONSENSE"], null)
                    while s.recv(65536):
                        pass
                except (BrokenPipeError, ConnectionResetError):
                    pass   # the predecessor closed its end already
                s.close()
            print("sent", 10 * 253 + 5 * 253, flush=True)
            """;
        var python = await ProcessRunner.RunAsync(Python, ["-c", peer, control]);
        Assert.True(python.ExitCode == 0, python.ToString());

        var after = DescriptorCount(predecessor.Pid);
        output.WriteLine($"{python.StandardOutput.Trim()} descriptors; the predecessor held {before} before, {after} after");
        Assert.True(after - before < 32, $"the predecessor held {before} descriptors before and {after} after");
        Assert.Equal(predecessor.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));

        // A real successor still takes over.
        await using var successor = SampleChild.Start(home.Path, "--urls", $"http://unix:{socket}", "--handover", control);
        await successor.WaitForLineAsync("this process serves alone");
        Assert.Equal(0, await predecessor.WaitForExitAsync());
    }

    [ToolTheory("python3")]
    [InlineData(false)]   // connects and says nothing
    [InlineData(true)]    // takes the sockets, then says nothing
    public async Task QuietPeer_IsDropped_AndARealSuccessorTakesOver(bool sendsTake)
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("s.sock");
        var control = home.PathOf("h.ctl");
        await using var predecessor = await StartListeningForSuccessorAsync(home.Path, control, "--urls", $"http://unix:{socket}", "--handover", control);

        const string quiet = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(sys.argv[1])
            if sys.argv[2] == "take":
                s.send(b"TAKE 2")
                s.recv(65536)
            print("quiet", flush=True)
            sys.stdin.read()
            """;
        var start = new ProcessStartInfo(Python) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-c", quiet, control, sendsTake ? "take" : "connect" })
        {
            start.ArgumentList.Add(a);
        }
        using var holder = Process.Start(start)!;
        try
        {
            Assert.Equal("quiet", await holder.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));

            // Queued behind the quiet peer: it waits longer for its answer than the predecessor waits for the quiet one.
            await using var successor = SampleChild.Start(home.Path, "--urls", $"http://unix:{socket}", "--handover", control);
            await successor.WaitForLineAsync("this process serves alone");
            Assert.Equal(0, await predecessor.WaitForExitAsync());
            Assert.Equal(successor.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));

            var expected = sendsTake ? "sent no READY or STARTING heartbeat after taking the sockets within 5 s" : "sent no request (TAKE) within 5 s";
            Assert.Contains(predecessor.Lines, l => l.Contains($"Hand-over: pid {holder.Id} {expected}", StringComparison.Ordinal));
            Assert.DoesNotContain("only to its own uid", successor.Output, StringComparison.Ordinal);
        }
        finally
        {
            holder.StandardInput.Close();
            await holder.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public async Task AbstractControlAddress_ThreeHandOversInARow_NoClientRefused()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("s.sock");
        var name = "@" + TestPaths.AbstractName();
        var control = "@" + TestPaths.AbstractName();
        string[] arguments = ["--urls", $"http://unix:{socket};http://unix:{name}", "--handover", control];
        var current = await StartListeningForSuccessorAsync(home.Path, control, arguments);
        try
        {
            await using var load = new ConnectionLoad(socket, TimeSpan.FromMilliseconds(3));
            var pids = new List<int> { current.Pid };
            for (var round = 1; round <= 3; round++)
            {
                var successor = await StartListeningForSuccessorAsync(home.Path, control, arguments);
                Assert.Equal(0, await current.WaitForExitAsync());
                Assert.Contains($"Hand-over: serving the control socket '{control}' taken from the predecessor", successor.Output);
                Assert.DoesNotContain("hand-over is off", successor.Output, StringComparison.Ordinal);
                Assert.Equal(successor.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
                Assert.Equal(successor.Pid, await ProcessProbe.PidAsync(new ServerAddress(name)));
                await current.DisposeAsync();
                current = successor;
                pids.Add(current.Pid);
                await load.UntilAsync(l => l.AnsweredBy(current.Pid) >= 10, TimeSpan.FromSeconds(30));
            }
            await load.StopAsync();
            output.WriteLine($"three hand-overs of {control} (serving {socket} and {name}): {load.Summary(TimeSpan.Zero, TimeSpan.MaxValue)}");
            Assert.DoesNotContain(load.Results, r => r.Error is not null);
            Assert.Equal(4, pids.Distinct().Count());
        }
        finally
        {
            await current.DisposeAsync();
        }
    }

    [UserSwitchingFact]
    public async Task AbstractControlAddress_OtherUidReconnecting_IsRefusedEachTime_LoggedOnce()
    {
        var users = await TestUsers.GetAsync();
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("s.sock");
        var control = "@" + TestPaths.AbstractName();
        await using var predecessor = await StartListeningForSuccessorAsync(home.Path, control, "--urls", $"http://unix:{socket}", "--handover", control);

        // An abstract name has no permissions: any uid connects, and is refused by SO_PEERCRED.
        const string peer = """
            import socket, sys
            closed = 0
            for _ in range(50):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect("\0" + sys.argv[1][1:])
                try:
                    s.send(b"TAKE 2")
                    if not s.recv(65536):
                        closed += 1
                except (BrokenPipeError, ConnectionResetError):
                    closed += 1
                s.close()
            print("closed", closed, flush=True)
            """;
        var python = await ProcessRunner.RunAsync("setpriv", [$"--reuid={users.Other.Uid}", $"--regid={users.Other.Gid}", "--clear-groups", Python, "-c", peer, control]);

        Assert.Equal("closed 50", python.StandardOutput.Trim());
        await predecessor.WaitForLineAsync($"Hand-over: refused pid");
        Assert.Single(predecessor.Lines, l => l.Contains($"(uid {users.Other.Uid}): only uid 0 may take the sockets", StringComparison.Ordinal));
        Assert.False(predecessor.HasExited);
        Assert.Equal(predecessor.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
    }

    private static int DescriptorCount(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;

    private static async Task<SampleChild> StartListeningForSuccessorAsync(string home, string control, params string[] arguments)
    {
        var sample = SampleChild.Start(home, arguments);
        try
        {
            await sample.WaitForLineAsync($"Hand-over: listening for a successor on '{control}'");
            return sample;
        }
        catch
        {
            await sample.DisposeAsync();
            throw;
        }
    }
}
