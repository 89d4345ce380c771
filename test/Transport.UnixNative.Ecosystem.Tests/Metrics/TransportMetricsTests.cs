using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Transport.UnixNative.Ecosystem.Tests.Metrics;

/// <summary>The <c>Transport.UnixNative</c> meter, read with MetricCollector from the host's meter factory.</summary>
public sealed class TransportMetricsTests
{
    private const string Meter = "Transport.UnixNative";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("path")]
    [InlineData("abstract")]
    [InlineData("seqpacket")]
    public async Task Connection_AcceptedThenClosed_CountedWithTheListenersTags(string kind)
    {
        MetricCollector<long>? accepted = null, active = null;
        await using var host = await MetricsHost.StartAsync(kind, services =>
        {
            var meters = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
            accepted = new MetricCollector<long>(meters, Meter, "unixnative.accepted_connections");
            active = new MetricCollector<long>(meters, Meter, "unixnative.active_connections");
        });
        using (accepted)
        using (active)
        {
            using (var client = host.CreateClient())
            {
                Assert.Equal("Hello, World!", await client.GetStringAsync("/plaintext").DefaultTimeout());
            }
            // Closing the client ends the connection: the active count goes back down.
            await active!.WaitForMeasurementsAsync(2, Wait);

            var measurement = Assert.Single(accepted!.GetMeasurementSnapshot());
            Assert.Equal(1, measurement.Value);
            Assert.Equal(host.Address, measurement.Tags["server.address"]);
            Assert.Equal("unix", measurement.Tags["network.transport"]);
            Assert.Equal(kind == "seqpacket" ? "seqpacket" : "stream", measurement.Tags["unixnative.socket.type"]);
            Assert.Equal([1L, -1L], active.GetMeasurementSnapshot().Select(m => m.Value));
            Assert.All(active.GetMeasurementSnapshot(), m => Assert.Equal(host.Address, m.Tags["server.address"]));
        }
    }

    [Theory]
    [InlineData("path")]
    [InlineData("seqpacket")]
    public async Task Io_CountsTheBytesOfAnEchoBothWays(string kind)
    {
        MetricCollector<long>? io = null;
        await using var host = await MetricsHost.StartAsync(kind, services =>
            io = new MetricCollector<long>(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), Meter, "unixnative.io"));
        using (io)
        {
            const int size = 300_000;
            using (var client = host.CreateClient())
            {
                using var response = await client.PostAsync("/echo", new ByteArrayContent(new byte[size])).DefaultTimeout();
                Assert.Equal(size, (await response.Content.ReadAsByteArrayAsync().DefaultTimeout()).Length);
            }
            // The client can have the last bytes before the server's thread records their sendmsg: wait for it.
            static long Sum(MetricCollector<long> collector, string direction)
                => collector.GetMeasurementSnapshot().Where(m => (string?)m.Tags["network.io.direction"] == direction).Sum(m => m.Value);
            await WaitUntilAsync(io!, c => Sum(c, "receive") >= size && Sum(c, "transmit") >= size);
            var snapshot = io!.GetMeasurementSnapshot();
            // Headers come on top of the body in both directions.
            Assert.InRange(Sum(io, "receive"), size, size + 4096);
            Assert.InRange(Sum(io, "transmit"), size, size + 4096);
            Assert.All(snapshot, m => Assert.Equal(host.Address, m.Tags["server.address"]));
        }
    }

    [Theory]
    [InlineData(false, "queued")]
    [InlineData(true, "inline")]
    public async Task Sends_CountWhereTheyRanAndWaitsForWritability(bool inlineScheduling, string expectedPath)
    {
        MetricCollector<long>? sends = null;
        await using var host = await MetricsHost.StartAsync("path",
            services => sends = new MetricCollector<long>(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), Meter, "unixnative.sends"),
            o => o.UnsafePreferInlineScheduling = inlineScheduling);
        using (sends)
        {
            using var client = host.CreateClient();
            // 8 MiB is far more than a unix socket buffers: with the client not reading yet, the send must wait.
            using var response = await client.GetAsync("/bytes/8388608", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
            await WaitForAsync(sends!, m => (string?)m.Tags["unixnative.send.path"] == "waiting");
            Assert.Equal(8388608, (await response.Content.ReadAsByteArrayAsync().DefaultTimeout()).Length);

            Assert.Contains(sends!.GetMeasurementSnapshot(), m => (string?)m.Tags["unixnative.send.path"] == expectedPath);
        }
    }

    [Fact]
    public async Task EventLoop_RecordsEventsPerEpollWaitByLoop()
    {
        MetricCollector<int>? events = null;
        await using var host = await MetricsHost.StartAsync("path",
            services => events = new MetricCollector<int>(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), Meter, "unixnative.eventloop.events"),
            o => o.IOThreadCount = 1);
        using (events)
        {
            using (var client = host.CreateClient())
            {
                await client.GetStringAsync("/plaintext").DefaultTimeout();
            }
            // At least the accept readiness and the request arrived through epoll_wait on loop 0.
            await WaitForAsync(events!, m => m.Value > 0);
            Assert.All(events!.GetMeasurementSnapshot(), m => Assert.Equal(0, m.Tags["unixnative.eventloop.index"]));
        }
    }

    [Fact]
    public async Task Allowlist_RefusedConnection_CountedAsRefusedNotAccepted()
    {
        MetricCollector<long>? refused = null, accepted = null;
        await using var host = await MetricsHost.StartAsync("path", services =>
        {
            var meters = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
            refused = new MetricCollector<long>(meters, Meter, "unixnative.refused_connections");
            accepted = new MetricCollector<long>(meters, Meter, "unixnative.accepted_connections");
        }, o => o.AllowedUserIds = new HashSet<uint> { 4_000_000_000 });
        using (refused)
        using (accepted)
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.Address)).DefaultTimeout();
            // The transport closes a refused peer before reading: we see end of stream.
            Assert.Equal(0, await socket.ReceiveAsync(new byte[16]).DefaultTimeout());

            await refused!.WaitForMeasurementsAsync(1, Wait);
            var measurement = Assert.Single(refused.GetMeasurementSnapshot());
            Assert.Equal("allowlist", measurement.Tags["unixnative.refusal.reason"]);
            Assert.Empty(accepted!.GetMeasurementSnapshot());
        }
    }

    private static async Task WaitUntilAsync<T>(MetricCollector<T> collector, Func<MetricCollector<T>, bool> condition)
        where T : struct
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (!condition(collector))
        {
            await collector.WaitForMeasurementsAsync(collector.GetMeasurementSnapshot().Count + 1, timeout.Token);
        }
    }

    private static async Task WaitForAsync<T>(MetricCollector<T> collector, Func<Microsoft.Extensions.Diagnostics.Metrics.Testing.CollectedMeasurement<T>, bool> match)
        where T : struct
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (!collector.GetMeasurementSnapshot().Any(match))
        {
            await collector.WaitForMeasurementsAsync(collector.GetMeasurementSnapshot().Count + 1, timeout.Token);
        }
    }
}
