using System.Runtime.Versioning;
using Transport.UnixNative.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Transport.UnixNative.Tests.Restart;

/// <summary>
/// Two instances of the sample as real processes with <c>--handover PATH</c>: the successor takes the
/// listening sockets, the predecessor drains and exits 0, and clients never notice.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class HandoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(3);

    [Fact]
    public async Task UnderLoadOfNewConnections_NoClientFails_AndTwoPidsAnswer()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("s.sock");
        var control = home.PathOf("h.ctl");
        var packets = "@" + TestPaths.AbstractName();
        string[] arguments = ["--urls", $"http://unix:{socket}", "--seqpacket", packets, "--handover", control];
        await using var predecessor = await StartListeningForSuccessorAsync(home.Path, control, arguments);

        await using var load = new ConnectionLoad(socket, s_interval);
        await load.UntilAsync(l => l.AnsweredBy(predecessor.Pid) >= 50, TimeSpan.FromSeconds(30));
        var swapStart = load.Now;
        await using var successor = SampleChild.Start(home.Path, arguments);
        await successor.WaitForLineAsync("this process serves alone");
        Assert.Equal(0, await predecessor.WaitForExitAsync());
        var swapEnd = load.Now;
        await load.UntilAsync(l => l.Results.Count(r => r.Start > swapEnd && r.Pid == successor.Pid) >= 50, TimeSpan.FromSeconds(30));
        await load.StopAsync();

        output.WriteLine($"hand-over under load, whole run: {load.Summary(TimeSpan.Zero, TimeSpan.MaxValue)}");
        output.WriteLine($"during the swap ({(swapEnd - swapStart).TotalMilliseconds:F0} ms from starting the successor to the predecessor's exit): {load.Summary(swapStart, swapEnd)}");
        Assert.DoesNotContain(load.Results, r => r.Error is not null);
        Assert.Equal(new[] { predecessor.Pid, successor.Pid }.Order(), load.Results.Select(r => r.Pid).Distinct().Order());
        Assert.True(File.Exists(socket), "the predecessor must not remove the socket file its successor serves");
        Assert.Contains("Hand-over: gave 2 socket(s) to pid " + successor.Pid, predecessor.Output);
        Assert.Equal(successor.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
        Assert.Equal(successor.Pid, await ProcessProbe.PidAsync(new ServerAddress(packets, IsSeqpacket: true)));

        // The successor owns the file now and offers the sockets on to its own successor.
        await successor.WaitForLineAsync("listening for a successor");
        successor.Terminate();
        Assert.Equal(0, await successor.WaitForExitAsync());
        Assert.False(File.Exists(socket), "the last server removes the socket file it inherited ownership of");
        Assert.False(File.Exists(control));
    }

    /// <summary>The same load across a plain stop and start: this is what the hand-over avoids, and proves the load notices failures.</summary>
    [Fact]
    public async Task PlainStopAndStart_UnderLoad_ClientsFail()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("s.sock");
        string[] arguments = ["--urls", $"http://unix:{socket}"];
        await using var first = SampleChild.Start(home.Path, arguments);
        await first.WaitForStartedAsync();

        await using var load = new ConnectionLoad(socket, s_interval);
        await load.UntilAsync(l => l.AnsweredBy(first.Pid) >= 50, TimeSpan.FromSeconds(30));
        var swapStart = load.Now;
        first.Terminate();
        Assert.Equal(0, await first.WaitForExitAsync());
        await using var second = SampleChild.Start(home.Path, arguments);
        await second.WaitForStartedAsync();
        var swapEnd = load.Now;
        await load.UntilAsync(l => l.AnsweredBy(second.Pid) >= 50, TimeSpan.FromSeconds(30));
        await load.StopAsync();

        output.WriteLine($"plain stop-and-start under load, whole run: {load.Summary(TimeSpan.Zero, TimeSpan.MaxValue)}");
        output.WriteLine($"during the restart ({(swapEnd - swapStart).TotalMilliseconds:F0} ms from SIGTERM to the new one started): {load.Summary(swapStart, swapEnd)}");
        Assert.Contains(load.Results, r => r.Error is not null);
    }

    [Fact]
    public async Task SuccessorFailingBeforeReady_LeavesThePredecessorServing()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("s.sock");
        var control = home.PathOf("h.ctl");
        await using var predecessor = await StartListeningForSuccessorAsync(home.Path, control, "--urls", $"http://unix:{socket}", "--handover", control);

        await using var load = new ConnectionLoad(socket, s_interval);
        await load.UntilAsync(l => l.AnsweredBy(predecessor.Pid) >= 20, TimeSpan.FromSeconds(30));

        // The new version's configuration names a directory that does not exist: it takes the
        // sockets, then fails to bind its second endpoint and exits before it is ready. It never
        // accepted, so no client was cut off.
        await using var broken = SampleChild.Start(home.Path, "--urls", $"http://unix:{socket};http://unix:{home.PathOf("missing/x.sock")}", "--handover", control);
        // A startup failure is an exit status and one line naming the cause, not SIGABRT (134) and a core dump.
        Assert.Equal(1, await broken.WaitForExitAsync());
        Assert.Contains($"Hand-over: took '{socket}'", broken.Output);
        Assert.Contains(broken.Lines, l => l.StartsWith("WebOverUds: cannot start: ", StringComparison.Ordinal) && l.Contains("does not exist", StringComparison.Ordinal));

        await predecessor.WaitForLineAsync($"Hand-over: the successor (pid {broken.Pid}) left before it was ready");
        Assert.False(predecessor.HasExited);
        Assert.Equal(predecessor.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
        Assert.True(File.Exists(control), "the predecessor still offers its sockets");

        // A good successor still takes over afterwards.
        await using var successor = SampleChild.Start(home.Path, "--urls", $"http://unix:{socket}", "--handover", control);
        await successor.WaitForLineAsync("this process serves alone");
        Assert.Equal(0, await predecessor.WaitForExitAsync());
        Assert.Equal(successor.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
        await load.StopAsync();
        output.WriteLine($"failed attempt, then a hand-over: {load.Summary(TimeSpan.Zero, TimeSpan.MaxValue)}");
        Assert.DoesNotContain(load.Results, r => r.Error is not null);
        Assert.DoesNotContain(load.Results, r => r.Pid == broken.Pid);
    }

    /// <summary>
    /// The new version drops an endpoint: the socket it took but serves with no endpoint must not
    /// linger as a listener nobody accepts on (clients would hang in its backlog forever).
    /// </summary>
    [Fact]
    public async Task SuccessorWithoutAnEndpointForAHandedOverSocket_ClosesIt_AndRemovesItsFile()
    {
        using var home = new TempSocketDirectory();
        var kept = home.PathOf("k.sock");
        var dropped = home.PathOf("d.sock");
        var control = home.PathOf("h.ctl");
        await using var predecessor = await StartListeningForSuccessorAsync(home.Path, control, "--urls", $"http://unix:{kept};http://unix:{dropped}", "--handover", control);

        await using var successor = await StartListeningForSuccessorAsync(home.Path, control, "--urls", $"http://unix:{kept}", "--handover", control);
        Assert.Equal(0, await predecessor.WaitForExitAsync());

        Assert.Equal(successor.Pid, await ProcessProbe.PidAsync(new ServerAddress(kept)));
        Assert.Contains($"'{dropped}'", successor.Lines.Single(l => l.Contains("no endpoint serves it", StringComparison.Ordinal)));
        Assert.False(File.Exists(dropped), "the file of a socket nobody serves any more goes with it");
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        var refused = Assert.Throws<System.Net.Sockets.SocketException>(() => client.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(dropped)));
        output.WriteLine($"connect to the dropped socket: {refused.SocketErrorCode}");
    }

    [Fact]
    public async Task NoPredecessor_BindsNormally_ControlSocketIsPrivate()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("s.sock");
        var control = home.PathOf("h.ctl");
        await using var sample = await StartListeningForSuccessorAsync(home.Path, control, "--urls", $"http://unix:{socket}", "--handover", control);

        Assert.Contains($"Hand-over: no predecessor at '{control}' (ENOENT", sample.Output);
        Assert.Equal(sample.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(control));
    }

    [UserSwitchingFact]
    public async Task OtherUser_IsRefused_PredecessorKeepsServing()
    {
        var users = await TestUsers.GetAsync();
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("s.sock");
        var control = home.PathOf("h.ctl");
        await using var predecessor = await StartListeningForSuccessorAsync(home.Path, control, "--urls", $"http://unix:{socket}", "--handover", control);
        string[] asOther = ["setpriv", $"--reuid={users.Other.Uid}", $"--regid={users.Other.Gid}", "--clear-groups"];
        string[] successorArguments = ["--urls", $"http://unix:{socket}", "--handover", control];

        // Mode 0600: another user cannot even connect.
        await using (var denied = SampleChild.Start(home.Path, asOther, successorArguments))
        {
            Assert.NotEqual(0, await denied.WaitForExitAsync());
            Assert.Contains($"'{control}': EACCES", denied.Output);
        }

        // Even with the mode opened up by mistake, SO_PEERCRED decides: both sides refuse.
        File.SetUnixFileMode(control, (UnixFileMode)0b110_110_110);
        await using (var refused = SampleChild.Start(home.Path, asOther, successorArguments))
        {
            Assert.NotEqual(0, await refused.WaitForExitAsync());
            Assert.Contains($"is served by uid 0 (pid {predecessor.Pid}), not by this process's uid {users.Other.Uid}", refused.Output);
            await predecessor.WaitForLineAsync($"Hand-over: refused pid {refused.Pid} (uid {users.Other.Uid})");
        }

        Assert.False(predecessor.HasExited);
        Assert.Equal(predecessor.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
    }

    [ToolFact(ActivationTests.Launcher, "curl")]
    public async Task ActivatedPredecessor_PassesSystemdSocketsOn_WithTheirNames_FilesStaySystemds()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("web.sock");
        var name = "@" + TestPaths.AbstractName();
        var control = home.PathOf("h.ctl");
        await using var predecessor = await ActivationTests.ActivateAsync(home.Path, ["-l", socket, "-l", name, "--fdname=web:admin"], ["--handover", control]);
        await predecessor.WaitForLineAsync("listening for a successor");

        // Started by hand, with no urls: it serves what the predecessor had, not the sample's default socket.
        await using var successor = SampleChild.Start(home.Path, "--handover", control);
        await successor.WaitForLineAsync("this process serves alone");
        Assert.Equal(0, await predecessor.WaitForExitAsync());
        Assert.Equal(successor.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
        Assert.Equal(successor.Pid, await ProcessProbe.PidAsync(new ServerAddress(name)));
        Assert.Contains($"Hand-over: took '{socket}' from the predecessor (pid {predecessor.Pid})", successor.Output);
        Assert.Equal(2, successor.Lines.Count(l => l.StartsWith("Try: ", StringComparison.Ordinal)));

        successor.Terminate();
        Assert.Equal(0, await successor.WaitForExitAsync());
        Assert.True(File.Exists(socket), "systemd's socket file stays, whoever served it last");
    }

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
