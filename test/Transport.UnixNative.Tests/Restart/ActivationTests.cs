using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Restart;

/// <summary>
/// The sample started by systemd's own launcher, <c>systemd-socket-activate</c> (Debian's systemd
/// package): it serves exactly the activated sockets, named by LISTEN_FDNAMES, and binds nothing of its own.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ActivationTests
{
    internal const string Launcher = "systemd-socket-activate";

    [ToolFact(Launcher, "curl")]
    public async Task Path_ServedFromTheActivatedSocket_NoDefaultSocket_FileLeftToSystemd()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("a.sock");
        await using var sample = await ActivateAsync(home.Path, ["-l", socket], []);

        var pid = await ProcessProbe.PidAsync(new ServerAddress(socket));

        Assert.Equal(sample.Pid, pid); // systemd-socket-activate execs the sample in its own process
        await sample.WaitForLineAsync($"Socket activation: serving '{socket}' (fd 3, fd name ");
        Assert.Equal([$"Try: curl --unix-socket {socket} http://localhost/"], TryLines(sample));
        sample.Terminate();
        Assert.Equal(0, await sample.WaitForExitAsync());
        Assert.True(File.Exists(socket), "the launcher created the socket file: the sample must not remove it");
    }

    [ToolFact(Launcher, "curl")]
    public async Task AbstractName_Served()
    {
        using var home = new TempSocketDirectory();
        var name = TestPaths.AbstractName();
        await using var sample = await ActivateAsync(home.Path, ["-l", "@" + name], []);

        Assert.Equal(sample.Pid, await ProcessProbe.PidAsync(new ServerAddress("@" + name)));
        Assert.Equal([$"Try: curl --abstract-unix-socket {name} http://localhost/"], TryLines(sample));
    }

    [ToolFact(Launcher, "curl")]
    public async Task Several_NamedWithFdname_AllServedAndLoggedWithTheirNames()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("web.sock");
        var name = TestPaths.AbstractName();
        await using var sample = await ActivateAsync(home.Path, ["-l", socket, "-l", "@" + name, "--fdname=web:admin"], []);

        Assert.Equal(sample.Pid, await ProcessProbe.PidAsync(new ServerAddress(socket)));
        Assert.Equal(sample.Pid, await ProcessProbe.PidAsync(new ServerAddress("@" + name)));
        await sample.WaitForLineAsync($"Socket activation: serving '{socket}' (fd 3, fd name 'web').");
        await sample.WaitForLineAsync($"Socket activation: serving '@{name}' (fd 4, fd name 'admin').");
        Assert.Equal(2, TryLines(sample).Length);
    }

    [ToolFact(Launcher, "curl")]
    public async Task FdNameUrl_ServesOnlyThatSocket()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("web.sock");
        var name = TestPaths.AbstractName();
        await using var sample = await ActivateAsync(home.Path, ["-l", socket, "-l", "@" + name, "--fdname=web:admin"], ["--urls", "http://unix-fd:admin"],
            trigger: "@" + name);

        Assert.Equal(sample.Pid, await ProcessProbe.PidAsync(new ServerAddress("@" + name)));
        Assert.Equal([$"Try: curl --abstract-unix-socket {name} http://localhost/"], TryLines(sample));
    }

    [ToolFact(Launcher, "curl")]
    public async Task Seqpacket_DetectedFromTheDescriptor()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("a.seq");
        await using var sample = await ActivateAsync(home.Path, ["--seqpacket", "-l", socket], [], trigger: null);

        var address = new ServerAddress(socket, IsSeqpacket: true);
        Assert.Equal(sample.Pid, await ProcessProbe.PidAsync(address));
        Assert.Single(TryLines(sample), l => l.Contains($"UNIX-CONNECT:{socket},type=5", StringComparison.Ordinal));
    }

    [ToolFact(Launcher, "curl")]
    public async Task ConfiguredEndpointOnTheActivatedAddress_UsesTheActivatedSocket_OthersBind()
    {
        using var home = new TempSocketDirectory();
        var activated = home.PathOf("a.sock");
        var own = home.PathOf("own.sock");
        await using var sample = await ActivateAsync(home.Path, ["-l", activated], ["--urls", $"http://unix:{activated};http://unix:{own}"]);

        // Binding the activated path again would fail: a live socket is listening there (EADDRINUSE).
        Assert.Equal(sample.Pid, await ProcessProbe.PidAsync(new ServerAddress(activated)));
        Assert.Equal(sample.Pid, await ProcessProbe.PidAsync(new ServerAddress(own)));
        await sample.WaitForLineAsync($"Socket activation: serving '{activated}'");
        sample.Terminate();
        Assert.Equal(0, await sample.WaitForExitAsync());
        Assert.True(File.Exists(activated), "systemd's socket file stays");
        Assert.False(File.Exists(own), "the sample's own socket file is removed as usual");
    }

    [ToolFact(Launcher, "curl")]
    public async Task ActivatedDescriptors_AreCloseOnExec()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("a.sock");
        var name = TestPaths.AbstractName();
        await using var sample = await ActivateAsync(home.Path, ["-l", socket, "-l", "@" + name], []);
        await ProcessProbe.PidAsync(new ServerAddress(socket));

        foreach (var fd in new[] { 3, 4 })
        {
            // fdinfo's flags are octal open flags; O_CLOEXEC is 02000000. The launcher passes them inheritable.
            var flags = File.ReadLines($"/proc/{sample.Pid}/fdinfo/{fd}").Single(l => l.StartsWith("flags:", StringComparison.Ordinal));
            var value = Convert.ToInt64(flags["flags:".Length..].Trim(), 8);
            Assert.True((value & 0x80000) != 0, $"fd {fd}: {flags}");
        }
    }

    /// <summary>
    /// inetd style (<c>Accept=yes</c>, <c>--accept</c>): the sample gets one connected socket, not a
    /// listener. It must say so and exit, not bind a default socket while that client hangs.
    /// </summary>
    [ToolFact(Launcher)]
    public async Task AcceptStyle_ConnectedSocket_FailsStartupWithAClearMessage_ClientIsNotLeftHanging()
    {
        using var home = new TempSocketDirectory();
        var socket = home.PathOf("a.sock");
        await using var launcher = SampleChild.Start(home.Path, [Launcher, "--accept", "-l", socket], []);
        await launcher.WaitForLineAsync($"Listening on {socket} as ");

        using var client = await UnixClient.ConnectSocketAsync(new ServerAddress(socket));
        await launcher.WaitForLineAsync("is a connected socket (inetd style: Accept=yes or --accept)");
        // The instance exits, so the connection it was given ends instead of waiting for an answer.
        Assert.Equal(0, await client.ReceiveAsync(new byte[16], SocketFlags.None).WaitAsync(TimeoutExtensions.DefaultTimeoutValue));
        Assert.DoesNotContain(launcher.Lines, l => l.Contains("Now listening on", StringComparison.Ordinal));
    }

    private static string[] TryLines(SampleChild sample) => sample.Lines.Where(l => l.StartsWith("Try: ", StringComparison.Ordinal)).ToArray();

    /// <summary>
    /// Starts the launcher and makes the first connection, which is what makes it exec the sample;
    /// returns once the sample serves and has printed its "Try:" lines.
    /// </summary>
    internal static async Task<SampleChild> ActivateAsync(string home, string[] launcherArguments, string[] sampleArguments, string? trigger = "")
    {
        var sample = SampleChild.Start(home, [Launcher, .. launcherArguments], sampleArguments);
        try
        {
            var listen = launcherArguments.Where((a, i) => i > 0 && launcherArguments[i - 1] == "-l").ToArray();
            foreach (var address in listen)
            {
                await sample.WaitForLineAsync($"Listening on {address} as ");
            }
            var first = trigger is { Length: > 0 } ? trigger : listen[0];
            var seqpacket = launcherArguments.Contains("--seqpacket");
            // The connection waits in the backlog until the sample accepts it, then is simply closed.
            using (var connection = await UnixClient.ConnectSocketAsync(new ServerAddress(first, seqpacket)))
            {
                await sample.WaitForStartedAsync();
            }
            return sample;
        }
        catch
        {
            await sample.DisposeAsync();
            throw;
        }
    }
}
