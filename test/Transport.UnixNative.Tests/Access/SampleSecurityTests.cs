using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text;
using static Transport.UnixNative.Tests.Access.SocketFilePermissionTests;

namespace Transport.UnixNative.Tests.Access;

/// <summary>The WebOverUds sample as a real process: <c>--socket-mode</c>, <c>--socket-group</c>, <c>GET /whoami</c>, <c>GET /admin</c>.</summary>
[SupportedOSPlatform("linux")]
public sealed class SampleSecurityTests
{
    [UserSwitchingFact]
    public async Task Sample_GroupSocket_WhoAmI_AndAdminForRootOnly()
    {
        var users = await TestUsers.GetAsync();
        using var directory = new TempSocketDirectory();
        var socket = directory.PathOf("s.sock");
        await using var sample = await SampleProcess.StartAsync(directory.Path, null,
            "--urls", $"http://unix:{socket}", "--socket-mode", "0660", "--socket-group", TestUsers.AppGroup);

        Assert.Equal(["660", "root", TestUsers.AppGroup], (await StatAsync(socket))[..3]);

        var root = await Curl.GetAsync(socket, "/whoami");
        Assert.Equal($$"""{"pid":{{root.Pid}},"uid":0,"gid":0,"user":"root",""" + Label, WithoutLabelValue(root.Body));
        Assert.Equal(200, (await Curl.GetAsync(socket, "/admin")).Status);

        var member = await Curl.GetAsync(socket, "/whoami", users.Member, Curl.InitGroups);
        Assert.Equal($$"""{"pid":{{member.Pid}},"uid":{{users.Member.Uid}},"gid":{{users.Member.Gid}},"user":"{{TestUsers.MemberName}}",""" + Label, WithoutLabelValue(member.Body));
        Assert.Equal(403, (await Curl.GetAsync(socket, "/admin", users.Member, Curl.InitGroups)).Status);

        var other = await Curl.GetAsync(socket, "/whoami", users.Other, Curl.ClearGroups, "-v");
        Assert.Equal(7, other.ExitCode);
        Assert.Contains("Permission denied", other.Process.Stderr);
    }

    [UserSwitchingFact]
    public async Task Sample_NotRoot_CannotGiveTheSocketToAForeignGroup()
    {
        var users = await TestUsers.GetAsync();
        using var directory = new TempSocketDirectory();
        Assert.Equal(0, (await ChildProcess.RunAsync("chown", [users.Other.Name, directory.Path])).ExitCode);
        var socket = directory.PathOf("s.sock");

        var error = await Assert.ThrowsAsync<SampleExitedException>(() => SampleProcess.StartAsync(directory.Path, users.Other,
            "--urls", $"http://unix:{socket}", "--socket-group", "root"));

        Assert.Contains($"Cannot give unix socket '{socket}' group 'root' (gid 0): EPERM (Operation not permitted).", error.Output);
        Assert.False(File.Exists(socket));
    }

    // "label" is the peer's LSM label: null where no security module labels sockets, a string where one does.
    private const string Label = "\"label\":…}";

    private static string WithoutLabelValue(string body)
        => System.Text.RegularExpressions.Regex.Replace(body, "\"label\":(null|\"[^\"]*\")}$", "\"label\":…}");
}

internal sealed class SampleExitedException(string message, string output) : Exception(message)
{
    public string Output { get; } = output;
}

/// <summary>The WebOverUds sample from the test's output directory, started and killed by the test; $HOME is the test's directory.</summary>
internal sealed class SampleProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SampleProcess(Process process) => _process = process;

    /// <summary>Starts the sample (as <paramref name="user"/>, if given) and returns once it listens; throws if it exits first.</summary>
    public static async Task<SampleProcess> StartAsync(string home, TestUser? user, params string[] arguments)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var start = new ProcessStartInfo(user is null ? dotnet : "setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = home,
        };
        if (user is not null)
        {
            foreach (var a in new[] { $"--reuid={user.Uid}", $"--regid={user.Gid}", "--clear-groups", dotnet })
            {
                start.ArgumentList.Add(a);
            }
        }
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "WebOverUds.dll"));
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }
        // Data protection keys (pulled in by authentication) and the CLI's files go to the test's directory.
        start.Environment["HOME"] = home;
        start.Environment["DOTNET_CLI_HOME"] = home;
        start.Environment["DOTNET_NOLOGO"] = "1";

        var sample = new SampleProcess(Process.Start(start)!);
        try
        {
            await sample.WaitUntilListeningAsync().DefaultTimeout();
            return sample;
        }
        catch
        {
            await sample.DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilListeningAsync()
    {
        _process.StandardInput.Close();
        var stderr = _process.StandardError.ReadToEndAsync();
        // The sample prints "Try: curl …" once Kestrel listens.
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
            if (line.StartsWith("Try: ", StringComparison.Ordinal))
            {
                _ = DrainAsync(stderr);
                return;
            }
        }
        await _process.WaitForExitAsync();
        var output = _output + await stderr;
        throw new SampleExitedException($"The sample exited with {_process.ExitCode} before listening:\n{output}", output);
    }

    private async Task DrainAsync(Task<string> stderr)
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
        await stderr;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync().DefaultTimeout();
        _process.Dispose();
    }
}
