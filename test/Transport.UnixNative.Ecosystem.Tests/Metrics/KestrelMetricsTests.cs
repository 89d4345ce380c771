using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Transport.UnixNative.Ecosystem.Tests.Metrics;

/// <summary>Kestrel's own meter sees our connections as unix ones, with the socket as server.address.</summary>
public sealed class KestrelMetricsTests
{
    private const string KestrelMeter = "Microsoft.AspNetCore.Server.Kestrel";

    [Theory]
    [InlineData("path")]
    [InlineData("abstract")]
    [InlineData("seqpacket")]
    public async Task KestrelMeter_TagsNetworkTransportUnixAndTheSocket(string kind)
    {
        MetricCollector<long>? active = null;
        MetricCollector<double>? duration = null;
        await using var host = await MetricsHost.StartAsync(kind, services =>
        {
            var meters = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
            active = new MetricCollector<long>(meters, KestrelMeter, "kestrel.active_connections");
            duration = new MetricCollector<double>(meters, KestrelMeter, "kestrel.connection.duration");
        });
        using (active)
        using (duration)
        {
            using (var client = host.CreateClient())
            {
                await client.GetStringAsync("/plaintext").DefaultTimeout();
            }
            await duration!.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(30));

            foreach (var tags in active!.GetMeasurementSnapshot().Select(m => m.Tags).Concat(duration.GetMeasurementSnapshot().Select(m => m.Tags)))
            {
                Assert.Equal("unix", tags["network.transport"]);
                Assert.Equal(host.Address, tags["server.address"]);
            }
            Assert.Equal([1L, -1L], active.GetMeasurementSnapshot().Select(m => m.Value));
        }
    }
}
