using System.Runtime.Versioning;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Transport.UnixNative.Tests.Infrastructure;
using static Transport.UnixNative.Tests.Access.PeerAllowlistTests;
using static Transport.UnixNative.Tests.Access.PeerCredentialsFeatureTests;
using Transport.UnixNative.Tests.Restart;

namespace Transport.UnixNative.Tests.Access;

/// <summary>
/// Abstract addresses have no file permissions: without an explicit policy they admit only the server's
/// uid and root. Real other users (<c>setpriv</c>) connect with curl (stream) and Python (seqpacket, floods).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class AbstractAddressAccessTests
{
    private const int AbstractDefaultRefused = 44;

    private static void AssertRefusedByDefault(SecureServer server, CurlResult curl, TestUser user)
    {
        Assert.True(ClosedOnExitCodes.Contains(curl.ExitCode), $"expected the connection to be closed on curl: {curl}");
        var refusal = server.Logs.WithEventId(AbstractDefaultRefused).SingleOrDefault(e => (int)e["ProcessId"]! == curl.Pid);
        Assert.True(refusal is not null, $"no refusal logged for pid {curl.Pid}: {string.Join('\n', server.Logs.Entries.Select(e => e.Message))}");
        Assert.Equal(user.Uid, (uint)refusal["UserId"]!);
        Assert.Equal(LogLevel.Warning, refusal.Level);
        // The line says how to let this peer in.
        Assert.Contains("AllowedUserIds", refusal.Message);
        Assert.Contains("AllowAnyUserOnAbstractAddresses", refusal.Message);
    }

    [UserSwitchingFact]
    public async Task Stream_ByDefault_AdmitsOwnUidAndRoot_RefusesOtherUsersBeforeReading()
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(isAbstract: true);

        var own = await Curl.GetAsync(server.Address, "/peer");
        var other = await Curl.GetAsync(server.Address, "/peer", users.Other);
        var member = await Curl.GetAsync(server.Address, "/peer", users.Member, Curl.InitGroups);

        Assert.Equal(ProcessIds.EffectiveUserId, ReportOf(own).Uid);
        AssertRefusedByDefault(server, other, users.Other);
        AssertRefusedByDefault(server, member, users.Member);
        Assert.Equal(1, server.Requests);
    }

    [UserSwitchingFact]
    public async Task Seqpacket_ByDefault_RefusesOtherUsers_AndLogsOncePerUid()
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(isAbstract: true, isSeqpacket: true);

        // 300 connections from one other uid: each is closed before a byte is read, one log line in all.
        var flood = await PythonAsync(server.Address, users.Other, connections: 300);
        var own = await PythonAsync(server.Address, user: null, connections: 1);

        Assert.True(flood.ExitCode == 0, flood.ToString());
        Assert.Equal("closed 300 of 300", flood.StandardOutput.Trim());
        Assert.True(own.ExitCode == 0, own.ToString());
        Assert.Contains(" 200 OK", own.StandardOutput);
        var lines = server.Logs.WithEventId(AbstractDefaultRefused).ToArray();
        Assert.Single(lines);
        Assert.Equal(users.Other.Uid, (uint)lines[0]["UserId"]!);
        Assert.Equal(1, server.Requests);

        // Another uid gets its own line.
        var member = await PythonAsync(server.Address, users.Member, connections: 20);
        Assert.Equal("closed 20 of 20", member.StandardOutput.Trim());
        Assert.Equal([users.Other.Uid, users.Member.Uid], server.Logs.WithEventId(AbstractDefaultRefused).Select(e => (uint)e["UserId"]!));
    }

    [UserSwitchingTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AllowedUserIds_AdmitsTheListedUser_AndIsTheWholeRule(bool isSeqpacket)
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(isAbstract: true, isSeqpacket: isSeqpacket,
            transport: o => o.AllowedUserIds = new HashSet<uint> { users.Other.Uid, ProcessIds.EffectiveUserId });

        var other = await PythonAsync(server.Address, users.Other, connections: 1, isSeqpacket);
        var member = await PythonAsync(server.Address, users.Member, connections: 1, isSeqpacket);

        Assert.Contains(" 200 OK", other.StandardOutput);
        Assert.Equal("closed 1 of 1", member.StandardOutput.Trim());
        Assert.Single(server.Logs.WithEventId(40));   // the allowlist's refusal, not the abstract default's
        Assert.Empty(server.Logs.WithEventId(AbstractDefaultRefused));
    }

    [UserSwitchingTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AllowAnyUserOnAbstractAddresses_AdmitsEveryone(bool isSeqpacket)
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(isAbstract: true, isSeqpacket: isSeqpacket,
            transport: o => o.AllowAnyUserOnAbstractAddresses = true);

        var other = await PythonAsync(server.Address, users.Other, connections: 1, isSeqpacket);
        var member = await PythonAsync(server.Address, users.Member, connections: 1, isSeqpacket);

        Assert.Contains(" 200 OK", other.StandardOutput);
        Assert.Contains(" 200 OK", member.StandardOutput);
        Assert.Empty(server.Logs.WithEventId(AbstractDefaultRefused));
    }

    [UserSwitchingFact]
    public async Task SocketFile_IsUnaffected_ItsModeDecides()
    {
        var users = await TestUsers.GetAsync();
        await using var server = await SecureServer.StartAsync(transport: o => o.SocketFileMode = (UnixFileMode)Convert.ToInt32("666", 8));

        var other = await Curl.GetAsync(server.Address, "/peer", users.Other);

        Assert.Equal(users.Other.Uid, ReportOf(other).Uid);
    }

    [UserSwitchingFact]
    public async Task Configuration_AllowAnyUserOnAbstractAddresses_IsBound()
    {
        var users = await TestUsers.GetAsync();
        var name = TestPaths.AbstractName();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Kestrel:UnixNative:AllowAnyUserOnAbstractAddresses"] = "true" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUnixNativeTransport();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixAbstract(name));
        await using var app = builder.Build();
        app.MapGet("/peer", () => "in");
        await app.StartAsync().DefaultTimeout();
        try
        {
            var other = await Curl.GetAsync("@" + name, "/peer", users.Other);
            Assert.Equal((0, 200, "in"), (other.ExitCode, other.Status, other.Body));
        }
        finally
        {
            await app.StopAsync().DefaultTimeout();
        }
    }

    [Fact]
    public async Task Validation_RefusesTheOptInTogetherWithAnAllowlist()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kestrel:UnixNative:AllowAnyUserOnAbstractAddresses"] = "true",
            ["Kestrel:UnixNative:AllowedUserIds"] = "1000",
        });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUnixNativeTransport();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixAbstract(TestPaths.AbstractName()));
        await using var app = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync().DefaultTimeout());

        Assert.Contains("Kestrel:UnixNative:AllowAnyUserOnAbstractAddresses", error.Message);
        Assert.Contains("AllowedUserIds", error.Message);
    }

    [ToolFact(Restart.ActivationTests.Launcher, "curl", "setpriv")]
    public async Task Activated_AbstractSocket_GetsTheSameDefault()
    {
        var users = await TestUsers.GetAsync();
        using var home = new TempSocketDirectory();
        var name = "@" + TestPaths.AbstractName();
        await using var sample = await Restart.ActivationTests.ActivateAsync(home.Path, ["-l", name], []);

        var other = await Curl.GetAsync(name, "/", users.Other);
        var own = await Curl.GetAsync(name, "/");

        Assert.True(ClosedOnExitCodes.Contains(other.ExitCode), other.ToString());
        Assert.Equal(200, own.Status);
        await sample.WaitForLineAsync($"Refused a connection on abstract address '{name}' from pid {other.Pid} (uid {users.Other.Uid}");
    }

    /// <summary>
    /// Python as <paramref name="user"/>: <paramref name="connections"/> seqpacket or stream connections, each sending
    /// one HTTP/1.0 request. Prints "closed N of M" when the server closed them all unanswered, else the last reply.
    /// </summary>
    private static Task<ProcessResult> PythonAsync(string address, TestUser? user, int connections, bool isSeqpacket = true)
    {
        const string client = """
            import socket, sys
            address, kind, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
            if address.startswith("@"):
                address = "\0" + address[1:]
            closed, reply = 0, b""
            for _ in range(count):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if kind == "seqpacket" else socket.SOCK_STREAM)
                s.connect(address)
                data = b""
                try:
                    s.send(b"GET /peer HTTP/1.0\r\n\r\n")
                    while True:
                        packet = s.recv(65536)
                        if not packet:
                            break
                        data += packet
                except (BrokenPipeError, ConnectionResetError):
                    pass
                s.close()
                if data:
                    reply = data
                else:
                    closed += 1
            sys.stdout.write(f"closed {closed} of {count}\n" if closed == count else reply.decode())
            """;
        List<string> arguments = ["-c", client, address, isSeqpacket ? "seqpacket" : "stream", connections.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        return user is null
            ? ProcessRunner.RunAsync("/usr/bin/python3", arguments)
            : ProcessRunner.RunAsync("setpriv", [$"--reuid={user.Uid}", $"--regid={user.Gid}", "--clear-groups", "/usr/bin/python3", .. arguments]);
    }
}
