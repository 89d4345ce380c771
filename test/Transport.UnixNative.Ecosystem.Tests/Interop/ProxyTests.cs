namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>
/// nginx, HAProxy and YARP in front of our server, and of Kestrel's Sockets transport as the control: the
/// same checks through each (docs/proxies.md shows these configurations). Our client talks to the proxy's
/// own unix socket.
/// </summary>
public sealed class ProxyTests
{
    private static readonly Backend[] Both = [Backend.Ours, Backend.Sockets];

    public static TheoryData<string, Backend> NginxCases() => Cases(["nginx-keepalive", "nginx-plain"], Both);

    public static TheoryData<string, Backend> HaproxyCases() => Cases(["haproxy", "haproxy-h2"], Both);

    public static TheoryData<string, Backend> YarpCases()
    {
        var data = Cases(["yarp-factory", "yarp-url", "yarp-callback", "yarp-h2c"], Both);
        // What only our transport serves, behind the proxy that can reach it (HAProxy 2.6 pads abstract names).
        data.Add("yarp-factory", Backend.OursAbstract);
        data.Add("yarp-factory", Backend.OursSeqpacket);
        data.Add("yarp-url", Backend.OursSeqpacket);
        return data;
    }

    [ToolTheory("nginx")]
    [MemberData(nameof(NginxCases))]
    public Task Nginx_ManyRequests_Upload_Sse_WebSocket(string kind, Backend backend) => RunAsync(kind, backend);

    [ToolTheory("haproxy")]
    [MemberData(nameof(HaproxyCases))]
    public Task Haproxy_ManyRequests_Upload_Sse_WebSocket(string kind, Backend backend) => RunAsync(kind, backend);

    [Theory]
    [MemberData(nameof(YarpCases))]
    public Task Yarp_ManyRequests_Upload_Sse_WebSocket(string kind, Backend backend) => RunAsync(kind, backend);

    private static TheoryData<string, Backend> Cases(string[] kinds, Backend[] backends)
    {
        var data = new TheoryData<string, Backend>();
        foreach (var backend in backends)
        {
            foreach (var kind in kinds)
            {
                data.Add(kind, backend);
            }
        }
        return data;
    }

    private static async Task RunAsync(string kind, Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend, http2: Proxy.NeedsHttp2Backend(kind));
        await using var proxy = await Proxy.StartAsync(kind, server);
        using var client = HttpChecks.Client(proxy.Socket);

        var connections = await HttpChecks.ManyRequestsAsync(client);
        if (kind != "nginx-plain")
        {
            // Pooled: the sequential requests shared backend connections (nginx-plain opens one per request).
            Assert.True(connections <= HttpChecks.Sequential / 2, $"{connections} backend connections for {HttpChecks.Sequential} sequential requests");
        }
        await HttpChecks.UploadAsync(client);
        await HttpChecks.ServerSentEventsAsync(client, HttpChecks.ReleaseOver(client));
        if (Proxy.NeedsHttp2Backend(kind))
        {
            Assert.Equal("HTTP/2", await client.GetStringAsync("/proto").DefaultTimeout());
        }
        var key = await HttpChecks.WebSocketEchoAsync(proxy.Socket);
        Assert.Equal("closed", await server.WebSocketOutcome(key).DefaultTimeout());
    }
}
