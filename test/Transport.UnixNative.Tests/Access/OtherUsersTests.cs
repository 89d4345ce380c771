using System.Runtime.Versioning;
using Microsoft.AspNetCore.Authorization;
using static Transport.UnixNative.Tests.Access.PeerAllowlistTests;
using static Transport.UnixNative.Tests.Access.PeerCredentialsFeatureTests;
using static Transport.UnixNative.Tests.Access.SocketFilePermissionTests;

using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Access;

/// <summary>
/// Real, different users: curl runs as <c>unx-member</c> (in group <c>unx-app</c>) and <c>unx-other</c>
/// through <c>setpriv</c>, against a server running as root.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class OtherUsersTests
{
    private static readonly UnixFileMode Mode0666 = (UnixFileMode)Convert.ToInt32("666", 8);

    [UserSwitchingFact]
    public async Task Request_IsAttributedToTheUserAndProcessThatConnected()
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(transport: o => o.SocketFileMode = Mode0666);

        var member = await Curl.GetAsync(server.Address, "/peer", users.Member, Curl.InitGroups);
        var other = await Curl.GetAsync(server.Address, "/peer", users.Other, Curl.ClearGroups);

        var m = ReportOf(member);
        Assert.Equal((member.Pid, users.Member.Uid, users.Member.Gid, TestUsers.MemberName), (m.Pid, m.Uid, m.Gid, m.UserName));
        Assert.Contains(users.AppGroupId, m.SupplementaryGroups);
        Assert.Contains(TestUsers.AppGroup, m.GroupNames);
        Assert.Equal(KernelHasPeerPidFd ? member.Pid : null, m.PidFdPid);

        var o = ReportOf(other);
        Assert.Equal((other.Pid, users.Other.Uid, users.Other.Gid, TestUsers.OtherName), (o.Pid, o.Uid, o.Gid, o.UserName));
        Assert.Empty(o.SupplementaryGroups);
        Assert.Equal([TestUsers.OtherName], o.GroupNames); // the primary group's name only
    }

    public static TheoryData<string, string, int, int, int, int> PolicyCases => new()
    {
        // caller, setpriv groups,                    user, uid, group, gid
        { TestUsers.MemberName, Curl.InitGroups,       200, 200, 200, 200 },
        // Group membership is the process's (SO_PEERGROUPS), as the kernel checks files: dropped groups do not count …
        { TestUsers.MemberName, Curl.ClearGroups,      200, 200, 403, 403 },
        { TestUsers.OtherName,  Curl.ClearGroups,      403, 403, 403, 403 },
        // … and groups a process holds count even where /etc/group does not list its user.
        { TestUsers.OtherName,  "--groups=" + TestUsers.AppGroup, 403, 403, 200, 200 },
        // Root is not implicitly allowed.
        { "root",               "",                    403, 403, 403, 403 },
    };

    [UserSwitchingTheory]
    [MemberData(nameof(PolicyCases))]
    public async Task Policies_AllowAndDeny_ByUserUidGroupAndGid(string caller, string groups, int user, int uid, int group, int gid)
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(
            transport: o => o.SocketFileMode = Mode0666,
            policies: new Dictionary<string, Action<AuthorizationPolicyBuilder>>
            {
                ["user"] = p => p.RequireUnixUser(TestUsers.MemberName),
                ["uid"] = p => p.RequireUnixUid(users.Member.Uid),
                ["group"] = p => p.RequireUnixGroup(TestUsers.AppGroup),
                ["gid"] = p => p.RequireUnixGid(users.AppGroupId),
            });
        var account = caller switch
        {
            TestUsers.MemberName => users.Member,
            TestUsers.OtherName => users.Other,
            _ => null,
        };

        var statuses = new List<int>();
        foreach (var policy in new[] { "user", "uid", "group", "gid" })
        {
            var curl = await Curl.GetAsync(server.Address, $"/policy/{policy}", account, groups);
            Assert.True(curl.ExitCode == 0, curl.ToString());
            statuses.Add(curl.Status);
        }

        Assert.Equal([user, uid, group, gid], statuses);
    }

    [UserSwitchingFact]
    public async Task AllowedUserIds_RefusesOthersBeforeReading_AndGoesOnAccepting()
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(transport: o =>
        {
            o.SocketFileMode = Mode0666;
            o.AllowedUserIds = new HashSet<uint> { users.Member.Uid };
        });

        var refused = await Curl.GetAsync(server.Address, "/peer", users.Other);
        var admitted = await Curl.GetAsync(server.Address, "/peer", users.Member);

        AssertRefused(server, refused, users.Other.Uid, users.Other.Gid);
        Assert.Equal(admitted.Pid, ReportOf(admitted).Pid);
        Assert.Equal(1, server.Requests);   // the refused request never reached the application
        Assert.Single(server.Logs.WithEventId(40));
    }

    [UserSwitchingTheory]
    [InlineData(false)]
    [InlineData(true)]    // abstract: no file, no permissions; the allowlist is the only gate
    public async Task AllowedGroupIds_CountTheProcessGroups(bool isAbstract)
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(isAbstract: isAbstract, transport: o =>
        {
            o.SocketFileMode = Mode0666;
            o.AllowedGroupIds = new HashSet<uint> { users.AppGroupId };
        });

        var member = await Curl.GetAsync(server.Address, "/peer", users.Member, Curl.InitGroups);
        var memberWithoutGroups = await Curl.GetAsync(server.Address, "/peer", users.Member, Curl.ClearGroups);
        var otherGivenTheGroup = await Curl.GetAsync(server.Address, "/peer", users.Other, Curl.Groups(TestUsers.AppGroup));
        var other = await Curl.GetAsync(server.Address, "/peer", users.Other, Curl.ClearGroups);

        Assert.Equal(users.Member.Uid, ReportOf(member).Uid);
        Assert.Equal(users.Other.Uid, ReportOf(otherGivenTheGroup).Uid);
        AssertRefused(server, memberWithoutGroups, users.Member.Uid, users.Member.Gid);
        AssertRefused(server, other, users.Other.Uid, users.Other.Gid);
        Assert.Equal(2, server.Requests);
    }

    [UserSwitchingFact]
    public async Task GroupSocket0660_AdmitsTheGroup_AndRefusesOthersWithEACCES()
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(transport: o =>
        {
            o.SocketFileMode = (UnixFileMode)Convert.ToInt32("660", 8);
            o.SocketFileGroup = TestUsers.AppGroup;
        });

        var stat = await StatAsync(server.SocketPath);
        Assert.Equal(["660", "root", TestUsers.AppGroup], stat[..3]);

        var member = await Curl.GetAsync(server.Address, "/peer", users.Member, Curl.InitGroups);
        var other = await Curl.GetAsync(server.Address, "/peer", users.Other, Curl.ClearGroups, "-v");
        var memberWithoutGroups = await Curl.GetAsync(server.Address, "/peer", users.Member, Curl.ClearGroups, "-v");
        var root = await Curl.GetAsync(server.Address, "/peer");

        Assert.Equal(users.Member.Uid, ReportOf(member).Uid);
        Assert.Equal(0u, ReportOf(root).Uid);
        foreach (var refused in new[] { other, memberWithoutGroups })
        {
            Assert.True(refused.ExitCode == 7, refused.ToString());   // CURLE_COULDNT_CONNECT
            Assert.Contains("Permission denied", refused.Process.StandardError);   // EACCES from connect(2)
        }
        Assert.Equal(2, server.Requests);
    }

    [UserSwitchingFact]
    public async Task SocketFileOwner_GivesTheSocketToAnotherUser()
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(transport: o =>
        {
            o.SocketFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            o.SocketFileOwner = TestUsers.MemberName;
        });

        var stat = await StatAsync(server.SocketPath);
        Assert.Equal(["600", TestUsers.MemberName, "root"], stat[..3]);
        Assert.Equal(users.Member.Uid, ReportOf(await Curl.GetAsync(server.Address, "/peer", users.Member)).Uid);
        Assert.Equal(7, (await Curl.GetAsync(server.Address, "/peer", users.Other)).ExitCode);
    }
}
