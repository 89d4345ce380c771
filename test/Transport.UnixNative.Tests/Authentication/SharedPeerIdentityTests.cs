using System.Runtime.CompilerServices;
using System.Runtime.Versioning;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Authentication;
using Curl = Transport.UnixNative.Tests.Access.Curl;
using PeerCredentialsFeatureTests = Transport.UnixNative.Tests.Access.PeerCredentialsFeatureTests;
using SecureServer = Transport.UnixNative.Tests.Access.SecureServer;

namespace Transport.UnixNative.Tests.Authentication;

/// <summary>
/// Connections whose peers have identical credentials share one identity and one set of claims
/// (thousands of keep-alive connections from one client process hold one): what differs in any
/// credential gets its own, and what one request does to its user reaches no other connection.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SharedPeerIdentityTests
{
    [Fact]
    public async Task ConnectionsFromOneProcess_ShareTheClaims_AndARequestsChangesStayInIt()
    {
        using var directory = new TempSocketDirectory();
        var socket = directory.PathOf("s.sock");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUnixNativeTransport();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(socket));
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        builder.Services.AddAuthentication(UnixPeerDefaults.AuthenticationScheme).AddUnixPeer();
        await using var app = builder.Build();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(string Connection, Claim? UserId, string View)>();
        app.MapGet("/claims", (HttpContext context) => seen.Enqueue((context.Connection.Id, context.User.FindFirst(UnixClaimTypes.UserId), Describe(context))));
        app.MapGet("/mutate", (HttpContext context) =>
        {
            var identity = (ClaimsIdentity)context.User.Identity!;
            var userId = identity.FindFirst(UnixClaimTypes.UserId);
            identity.RemoveClaim(identity.FindFirst(ClaimTypes.Name));
            Assert.True(identity.TryRemoveClaim(identity.FindFirst(UnixClaimTypes.UserId)));
            identity.AddClaim(new Claim("added", "by /mutate"));
            seen.Enqueue((context.Connection.Id, userId, Describe(context)));
        });
        await app.StartAsync().DefaultTimeout();
        try
        {
            var address = new ServerAddress(socket);
            await using var first = await UnixClient.ConnectAsync(address).DefaultTimeout();
            await using var second = await UnixClient.ConnectAsync(address).DefaultTimeout();
            var firstReader = new RawHttpReader(first);
            var secondReader = new RawHttpReader(second);
            // Both connections stay open throughout: two connections, one client process.
            foreach (var (stream, reader, path) in new[]
                     {
                         (first, firstReader, "/claims"), (second, secondReader, "/mutate"),
                         (first, firstReader, "/claims"), (second, secondReader, "/claims"),
                     })
            {
                await stream.WriteAsync(RawHttpReader.Get(path)).AsTask().DefaultTimeout();
                var response = await reader.ReadResponseAsync().DefaultTimeout();
                Assert.Equal(200, response?.Status);
            }

            var replies = seen.ToArray();
            Assert.Equal(4, replies.Length);
            Assert.Equal(2, replies.Select(r => r.Connection).Distinct().Count());
            Assert.Equal(replies[0].Connection, replies[2].Connection);
            Assert.NotEqual(replies[0].Connection, replies[1].Connection);
            // One identity: the very same claim objects on both connections.
            Assert.All(replies, r => Assert.Same(replies[0].UserId, r.UserId));
            var uid = ProcessIds.EffectiveUserId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var untouched = $"name={(await ProcessRunner.RunAsync("id", ["-un"])).StandardOutput.Trim()} uid={uid} pid={Environment.ProcessId} added=0";
            Assert.Equal([untouched, "name=(none) uid=(none) pid=" + Environment.ProcessId + " added=1", untouched, untouched], replies.Select(r => r.View));
        }
        finally
        {
            await app.StopAsync().DefaultTimeout();
        }
    }

    [UserSwitchingFact]
    public async Task PeersThatDifferInProcessOrGroups_GetTheirOwnClaims()
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(transport: o => o.SocketFileMode = (UnixFileMode)Convert.ToInt32("666", 8));

        // Same user, same primary group: first with its supplementary groups, then without, then with
        // them again (a new process, so a new pid): each sees exactly its own credentials.
        var withGroups = await Curl.GetAsync(server.Address, "/peer", users.Member, Curl.InitGroups);
        var withoutGroups = await Curl.GetAsync(server.Address, "/peer", users.Member, Curl.ClearGroups);
        var again = await Curl.GetAsync(server.Address, "/peer", users.Member, Curl.InitGroups);

        foreach (var (curl, hasAppGroup) in new[] { (withGroups, true), (withoutGroups, false), (again, true) })
        {
            Assert.True(curl.ExitCode == 0, curl.ToString());
            var report = PeerCredentialsFeatureTests.ReportOf(curl);
            var pid = curl.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal((curl.Pid, pid, users.Member.Uid, TestUsers.MemberName), (report.Pid, report.ClaimedProcessId, report.Uid, report.UserName));
            Assert.Equal(hasAppGroup, report.SupplementaryGroups.Contains(users.AppGroupId));
            // The claims, not only the feature: they come from the shared cache.
            Assert.Equal(hasAppGroup, report.ClaimedGroupIds!.Contains(users.AppGroupId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.Equal(hasAppGroup, report.GroupNames.Contains(TestUsers.AppGroup));
        }
    }

    [Fact]
    public void Cache_ReusesAnIdentityUntilItExpires_AndOnlyForIdenticalCredentials()
    {
        var time = new ManualTime();
        var cache = new UnixPeerIdentityCache(16, TimeSpan.FromSeconds(60), time);
        var resolved = 0;
        object Get(int pid, uint uid, uint gid, uint[] groups, bool names = true)
            => cache.GetOrResolve(pid, uid, gid, groups, names, () => { resolved++; return NewIdentity(pid, uid, gid, groups, names); });

        var identity = Get(100, 1000, 1000, [27, 100]);
        Assert.Same(identity, Get(100, 1000, 1000, [27, 100]));
        Assert.Equal(1, resolved);
        // Any difference in the credentials, or in whether names are resolved, is another identity.
        Assert.NotSame(identity, Get(101, 1000, 1000, [27, 100]));
        Assert.NotSame(identity, Get(100, 1001, 1000, [27, 100]));
        Assert.NotSame(identity, Get(100, 1000, 1001, [27, 100]));
        Assert.NotSame(identity, Get(100, 1000, 1000, [27]));
        Assert.NotSame(identity, Get(100, 1000, 1000, [27, 101]));
        Assert.NotSame(identity, Get(100, 1000, 1000, [27, 100], names: false));
        Assert.Equal(7, resolved);

        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Same(identity, Get(100, 1000, 1000, [27, 100]));
        time.Advance(TimeSpan.FromSeconds(1));
        var renewed = Get(100, 1000, 1000, [27, 100]);
        Assert.NotSame(identity, renewed);
        Assert.Same(renewed, Get(100, 1000, 1000, [27, 100]));
    }

    [Fact]
    public void Cache_NeverHoldsMoreThanItsCapacity()
    {
        var time = new ManualTime();
        var cache = new UnixPeerIdentityCache(8, TimeSpan.FromSeconds(60), time);
        for (var pid = 1; pid <= 100; pid++)
        {
            cache.GetOrResolve(pid, 1000, 1000, [], true, () => NewIdentity(pid, 1000, 1000, [], true));
            Assert.InRange(cache.Count, 1, 8);
        }
        // The latest peer is cached even though the cache was full of live entries.
        var latest = cache.GetOrResolve(100, 1000, 1000, [], true, () => throw new InvalidOperationException("resolved again"));
        Assert.Equal(100, latest.ProcessId);
    }

    private static UnixPeerIdentity NewIdentity(int pid, uint uid, uint gid, uint[] groups, bool names)
        => UnixPeerIdentity.For(new FakePeer(pid, uid, gid, groups), names);

    private static string Describe(HttpContext context)
    {
        var user = context.User;
        return $"name={user.Identity?.Name ?? "(none)"} uid={user.FindFirst(UnixClaimTypes.UserId)?.Value ?? "(none)"} " +
               $"pid={user.FindFirst(UnixClaimTypes.ProcessId)?.Value} added={user.FindAll("added").Count()}";
    }

    /// <summary>A credentials feature that is not the transport's: resolved directly, never cached.</summary>
    private sealed class FakePeer(int pid, uint uid, uint gid, uint[] groups) : IUnixPeerCredentialsFeature
    {
        public int ProcessId => pid;
        public uint UserId => uid;
        public uint GroupId => gid;
        public string? SecurityLabel => null;
        public IReadOnlyList<uint> GetSupplementaryGroupIds() => groups;
        public System.Runtime.InteropServices.SafeHandle? OpenPidFd() => null;
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _now;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _now;

        public void Advance(TimeSpan by) => _now += by.Ticks;
    }
}
