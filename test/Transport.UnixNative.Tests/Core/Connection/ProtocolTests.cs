using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>HTTP/2 cleartext over a unix socket: many streams share one connection, so flushes interleave.</summary>
public class ProtocolTests
{
    public static TheoryData<bool, bool> Configurations => new() { { false, true }, { true, true }, { false, false } };

    [Theory]
    [MemberData(nameof(Configurations))]
    public async Task Http2_100ConcurrentStreamsOnOneConnection_AllAnswered(bool seqpacket, bool native)
    {
        using var paths = new TempPaths();
        var address = new ServerAddress(paths.SocketPath(), seqpacket);
        var spec = new HostSpec
        {
            NativeTransport = native,
            Listen = seqpacket
                ? o => o.ListenUnixSeqpacket(address.Address, l => l.Protocols = HttpProtocols.Http2)
                : o => o.ListenUnixSocket(address.Address, l => l.Protocols = HttpProtocols.Http2),
        };
        await using var host = await SampleHost.StartAsync(spec);
        using var client = UnixClient.CreateHttpClient(address, maxConnections: 1);
        client.DefaultRequestVersion = HttpVersion.Version20;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;

        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            if (i % 10 == 0)
            {
                // Some streams carry 1 MiB, so DATA frames of several streams interleave on the connection.
                var bytes = await client.GetByteArrayAsync("/bytes/1048576").DefaultTimeout();
                Assert.Equal(1048576, bytes.Length);
                Assert.True(bytes.AsSpan().IndexOfAnyExcept((byte)'x') < 0);
            }
            using var plain = await client.GetAsync("/plaintext").DefaultTimeout();
            Assert.Equal(HttpVersion.Version20, plain.Version);
            Assert.Equal("Hello, World!", await plain.Content.ReadAsStringAsync().DefaultTimeout());
            return Assert.Single(plain.Headers.GetValues("X-Connection-Id"));
        })).Timeout(TimeSpan.FromSeconds(60));

        // All on one connection, served by the native transport.
        var id = Assert.Single(results.Distinct());
        Assert.Equal(native, host.Connections.Get(id).TransportType == "Transport.UnixNative.Core.Connection.UnixConnection");
    }
}
