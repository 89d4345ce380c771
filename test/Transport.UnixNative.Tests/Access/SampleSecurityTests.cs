using System.Runtime.Versioning;
using System.Text;
using static Transport.UnixNative.Tests.Access.SocketFilePermissionTests;

using Transport.UnixNative.Tests.Infrastructure;

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
        Assert.Contains("Permission denied", other.Process.StandardError);
    }

    [UserSwitchingFact]
    public async Task Sample_NotRoot_CannotGiveTheSocketToAForeignGroup()
    {
        var users = await TestUsers.GetAsync();
        using var directory = new TempSocketDirectory();
        Assert.Equal(0, (await ProcessRunner.RunAsync("chown", [users.Other.Name, directory.Path])).ExitCode);
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
internal static class SampleProcess
{
    /// <summary>Starts the sample (as <paramref name="user"/>, if given) and returns once it listens; throws if it exits first.</summary>
    public static async Task<ExternalProcess> StartAsync(string home, TestUser? user, params string[] arguments)
    {
        string[] sample = [ProcessRunner.Dotnet, Path.Combine(AppContext.BaseDirectory, "WebOverUds.dll"), .. arguments];
        string[] command = user is null ? sample : ["setpriv", $"--reuid={user.Uid}", $"--regid={user.Gid}", "--clear-groups", .. sample];
        // Data protection keys (pulled in by authentication) and the CLI's files go to the test's directory.
        var environment = new Dictionary<string, string> { ["HOME"] = home, ["DOTNET_CLI_HOME"] = home, ["DOTNET_NOLOGO"] = "1" };
        var process = ExternalProcess.Start(command[0], command[1..], environment, workingDirectory: home);
        process.CloseInput();
        try
        {
            // The sample prints "Try: curl …" once Kestrel listens.
            await process.WaitForLineAsync(line => line.StartsWith("Try: ", StringComparison.Ordinal));
            return process;
        }
        catch (InvalidOperationException exited)
        {
            await process.DisposeAsync();
            throw new SampleExitedException(exited.Message, process.Output);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }
}
