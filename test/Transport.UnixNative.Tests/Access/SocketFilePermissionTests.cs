using System.Runtime.Versioning;

using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Access;

/// <summary>SocketFileMode/Group/Owner with the test's own identity; other users are in <see cref="OtherUsersTests"/>.</summary>
[SupportedOSPlatform("linux")]
public sealed class SocketFilePermissionTests
{
    /// <summary>Mode (octal), owner and group names and ids of a file, as coreutils' stat reports them.</summary>
    internal static async Task<string[]> StatAsync(string path)
    {
        var stat = await ProcessRunner.RunAsync("stat", ["-c", "%a %U %G %u %g %F", path]);
        Assert.True(stat.ExitCode == 0, stat.ToString());
        return stat.StandardOutput.Trim().Split(' ', 6);
    }

    [ToolTheory("curl", "stat")]
    [InlineData("600")]
    [InlineData("666")]   // wider than the umask (022) allows: the transport sets it, not the umask
    [InlineData("660")]
    public async Task SocketFileMode_IsApplied(string octal)
    {
        await using var server = await SecureServer.StartAsync(transport: o => o.SocketFileMode = (UnixFileMode)Convert.ToInt32(octal, 8));

        var stat = await StatAsync(server.SocketPath);

        Assert.Equal(octal, stat[0]);
        Assert.Equal("socket", stat[5]);
        Assert.Equal(200, (await Curl.GetAsync(server.Address, "/peer")).Status);
    }

    [ToolFact("curl", "stat")]
    public async Task NumericOwnerAndGroup_AreApplied()
    {
        // Giving the file to oneself works without root, so this runs anywhere.
        await using var server = await SecureServer.StartAsync(transport: o =>
        {
            o.SocketFileOwner = ProcessIds.EffectiveUserId.ToString();
            o.SocketFileGroup = ProcessIds.EffectiveGroupId.ToString();
            o.SocketFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        });

        var stat = await StatAsync(server.SocketPath);

        Assert.Equal(["600", ProcessIds.EffectiveUserId.ToString(), ProcessIds.EffectiveGroupId.ToString()], new[] { stat[0], stat[3], stat[4] });
    }

    [Fact]
    public async Task UnknownGroup_FailsNamingPathAndGroup_AndLeavesNoSocketFile()
    {
        await using var server = new SecureServer(transport: o => o.SocketFileGroup = "unx-no-such-group");

        var error = await Assert.ThrowsAsync<IOException>(server.StartAsync).DefaultTimeout();

        Assert.Contains(server.SocketPath, error.Message);
        Assert.Contains("'unx-no-such-group'", error.Message);
        Assert.Contains("no such group", error.Message);
        Assert.False(File.Exists(server.SocketPath));
    }

    [Fact]
    public async Task UnknownOwner_FailsNamingPathAndUser()
    {
        await using var server = new SecureServer(transport: o => o.SocketFileOwner = "unx-no-such-user");

        var error = await Assert.ThrowsAsync<IOException>(server.StartAsync).DefaultTimeout();

        Assert.Contains(server.SocketPath, error.Message);
        Assert.Contains("'unx-no-such-user'", error.Message);
        Assert.False(File.Exists(server.SocketPath));
    }

    [Fact]
    public async Task ModeWithSpecialBits_IsRefused()
    {
        await using var server = new SecureServer(transport: o => o.SocketFileMode = UnixFileMode.SetUser | UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var error = await Assert.ThrowsAsync<ArgumentException>(server.StartAsync).DefaultTimeout();

        Assert.Contains(server.SocketPath, error.Message);
        Assert.Contains("04600", error.Message);
        Assert.False(File.Exists(server.SocketPath));
    }

    [ToolFact("curl", "stat")]
    public async Task FileOptions_OnAnAbstractAddress_AreIgnoredWithAWarning()
    {
        await using var server = await SecureServer.StartAsync(transport: o => o.SocketFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite, isAbstract: true);

        var warning = Assert.Single(server.Logs.WithEventId(43));
        Assert.Contains(server.Address, warning.Message);
        Assert.Equal(200, (await Curl.GetAsync(server.Address, "/peer")).Status);
    }
}
