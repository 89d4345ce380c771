using System.Runtime.Versioning;

using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Access;

/// <summary>AllowedUserIds/AllowedGroupIds with the test's own identity; the tests with other users are in <see cref="OtherUsersTests"/>.</summary>
[SupportedOSPlatform("linux")]
public sealed class PeerAllowlistTests
{
    /// <summary>
    /// curl's exits when the server accepts and closes at once: empty reply (52), send failure (55),
    /// receive failure (56), or, when the close lands while curl still checks its non-blocking connect, 7.
    /// The server's log entry for curl's pid is what tells a refusal from a connect(2) failure.
    /// </summary>
    internal static readonly int[] ClosedOnExitCodes = [7, 52, 55, 56];

    internal static void AssertRefused(SecureServer server, CurlResult curl, uint uid, uint gid)
    {
        Assert.True(ClosedOnExitCodes.Contains(curl.ExitCode), $"expected the connection to be closed on curl: {curl}");
        var refusal = server.Logs.WithEventId(40).SingleOrDefault(e => (int)e["ProcessId"]! == curl.Pid);
        Assert.True(refusal is not null, $"no refusal logged for pid {curl.Pid}: {string.Join('\n', server.Logs.Entries.Select(e => e.Message))}");
        Assert.Equal(uid, (uint)refusal["UserId"]!);
        Assert.Equal(gid, (uint)refusal["GroupId"]!);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, refusal.Level);
    }

    [ToolFact("curl", "stat")]
    public async Task EmptyAllowlist_ClosesEveryConnection_BeforeTheApplicationSeesIt_AndKeepsAccepting()
    {
        await using var server = await SecureServer.StartAsync(transport: o => o.AllowedUserIds = new HashSet<uint>());

        var first = await Curl.GetAsync(server.Address, "/peer");
        var second = await Curl.GetAsync(server.Address, "/peer");

        AssertRefused(server, first, ProcessIds.EffectiveUserId, ProcessIds.EffectiveGroupId);
        Assert.True(ClosedOnExitCodes.Contains(second.ExitCode), second.ToString());
        Assert.Single(server.Logs.WithEventId(40));   // once per uid: a reconnecting peer does not flood the log
        Assert.Equal(0, server.Requests);
        Assert.Empty(server.Connections);
    }

    [ToolFact("curl", "stat")]
    public async Task OwnUserId_IsAdmitted()
    {
        await using var server = await SecureServer.StartAsync(transport: o => o.AllowedUserIds = new HashSet<uint> { ProcessIds.EffectiveUserId });

        var curl = await Curl.GetAsync(server.Address, "/peer");

        Assert.Equal(curl.Pid, PeerCredentialsFeatureTests.ReportOf(curl).Pid);
        Assert.Empty(server.Logs.WithEventId(40));
    }

    [ToolFact("curl", "stat")]
    public async Task OwnPrimaryGroup_IsAdmitted_WhenOnlyGroupsAreListed()
    {
        await using var server = await SecureServer.StartAsync(transport: o =>
        {
            o.AllowedUserIds = new HashSet<uint>();   // nobody by uid …
            o.AllowedGroupIds = new HashSet<uint> { ProcessIds.EffectiveGroupId };   // … but our group
        });

        var curl = await Curl.GetAsync(server.Address, "/peer");

        Assert.Equal(ProcessIds.EffectiveGroupId, PeerCredentialsFeatureTests.ReportOf(curl).Gid);
    }

    [ToolFact("curl", "stat")]
    public async Task AbstractAddress_IsGuardedByTheAllowlist()
    {
        // An abstract address has no file and no permissions: the allowlist is the only gate.
        await using var server = await SecureServer.StartAsync(transport: o => o.AllowedGroupIds = new HashSet<uint>(), isAbstract: true);

        var curl = await Curl.GetAsync(server.Address, "/peer");

        AssertRefused(server, curl, ProcessIds.EffectiveUserId, ProcessIds.EffectiveGroupId);
        Assert.Equal(0, server.Requests);
    }
}
