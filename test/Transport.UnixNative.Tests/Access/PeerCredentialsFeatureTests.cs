using System.Runtime.Versioning;
using System.Text.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;

using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Access;

/// <summary>SO_PEERCRED as a connection feature, seen from the connection and from requests; curl is the peer.</summary>
[SupportedOSPlatform("linux")]
public sealed class PeerCredentialsFeatureTests
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    internal static PeerReport ReportOf(CurlResult curl)
    {
        Assert.True(curl.Status == 200, curl.ToString());
        return JsonSerializer.Deserialize<PeerReport>(curl.Body, Json)!;
    }

    internal static bool KernelHasPeerPidFd => Environment.OSVersion.Version >= new Version(6, 5);

    [ToolTheory("curl", "stat")]
    [InlineData(HttpProtocols.Http1, "--http1.1", "HTTP/1.1")]
    [InlineData(HttpProtocols.Http2, "--http2-prior-knowledge", "HTTP/2")]
    public async Task Feature_NamesTheConnectingProcess_OnTheConnectionAndInEveryRequest(HttpProtocols protocols, string curlSwitch, string protocol)
    {
        await using var server = await SecureServer.StartAsync(protocols: protocols);

        var curl = await Curl.GetAsync(server.Address, "/peer", extra: curlSwitch);

        var report = ReportOf(curl);
        Assert.Equal(protocol, report.Protocol);
        Assert.Equal(curl.Pid, report.Pid);
        Assert.Equal(ProcessIds.EffectiveUserId, report.Uid);   // curl inherits the test's ids
        Assert.Equal(ProcessIds.EffectiveGroupId, report.Gid);
        Assert.Equal(ProcessIds.SupplementaryGroupIds.Order(), report.SupplementaryGroups.Order());
        // HttpContext.Features falls back to the connection's features: the very same object.
        Assert.True(report.SameFeatureAsConnection);
        // The pidfd names curl itself, by the kernel's account (/proc/self/fdinfo).
        Assert.Equal(KernelHasPeerPidFd ? curl.Pid : null, report.PidFdPid);
        Assert.Equal((await ProcessRunner.RunAsync("id", ["-un"])).StandardOutput.Trim(), report.UserName);
    }

    [ToolFact("curl", "stat")]
    public async Task Feature_KeepsTheCredentials_AfterTheConnectionCloses_ButOpensNoPidFd()
    {
        await using var server = await SecureServer.StartAsync();
        var curl = await Curl.GetAsync(server.Address, "/peer");
        Assert.Equal(200, curl.Status);

        var connection = Assert.Single(server.Connections.Values);
        // ConnectionClosed fires as soon as the peer leaves, possibly before the socket is closed;
        // a stopped server has disposed every connection.
        await server.StopAsync();

        var peer = connection.Features.Get<IUnixPeerCredentialsFeature>();
        Assert.NotNull(peer);
        Assert.Equal(curl.Pid, peer.ProcessId);
        Assert.Equal(ProcessIds.EffectiveUserId, peer.UserId);
        Assert.Equal(ProcessIds.SupplementaryGroupIds.Order(), peer.GetSupplementaryGroupIds().Order()); // cached by the request
        // The socket is gone: asking the kernel now would use a descriptor number that may name something else.
        Assert.Throws<ObjectDisposedException>(() => peer.OpenPidFd());
    }

    [ToolFact("python3")]
    public async Task Feature_IsSetOnSeqpacketConnections()
    {
        await using var server = await SecureServer.StartAsync(isSeqpacket: true);
        // curl has no SOCK_SEQPACKET; Python does. HTTP/1.0: the server ends the response by closing.
        const string client = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(sys.argv[1])
            s.send(b"GET /peer HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                packet = s.recv(65536)
                if not packet:
                    break
                data += packet
            sys.stdout.write(data.decode())
            """;

        var python = await ProcessRunner.RunAsync("python3", ["-c", client, server.Address]);

        Assert.True(python.ExitCode == 0, python.ToString());
        var body = python.StandardOutput[(python.StandardOutput.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        var report = JsonSerializer.Deserialize<PeerReport>(body, Json)!;
        Assert.Equal(python.Pid, report.Pid);
        Assert.Equal(ProcessIds.EffectiveUserId, report.Uid);
        Assert.True(report.SameFeatureAsConnection);
    }
}
