using Transport.UnixNative.Bench.Drivers;

namespace Transport.UnixNative.Bench.Macro.Measures;

/// <summary>
/// Server memory per idle keep-alive connection: VmRSS after N connections have each had one
/// response, minus VmRSS before, divided by N.
/// </summary>
internal sealed class IdleMeasure : IMeasure
{
    private const int WarmupConnections = 256;

    // Time for the server to finish what the last responses started (pipe returns, timers) before RSS is read.
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    public async Task<Measurement> MeasureAsync(MeasureContext context)
    {
        var (scenario, ct) = (context.Scenario, context.CancellationToken);
        // Run the accept and first-request paths once so JIT and pools are not counted per connection.
        using (await IdleConnections.OpenAsync(context.Target, scenario.Path, WarmupConnections, ct).ConfigureAwait(false))
        {
        }
        await Task.Delay(Settle, ct).ConfigureAwait(false);

        var window = context.StartWindow();
        var before = context.Server.Sample();
        using var connections = await IdleConnections.OpenAsync(context.Target, scenario.Path, scenario.Connections, ct).ConfigureAwait(false);
        await Task.Delay(Settle, ct).ConfigureAwait(false);
        var after = context.Server.Sample();
        var cost = context.EndWindow(window);

        return context.Result(
            (after.RssKiB - before.RssKiB) / (double)connections.Count,
            p50: null,
            p99: null,
            cost.CpuPer100k(connections.Count),
            connections.Count,
            connections.OpenSeconds,
            extra: new Dictionary<string, double>
            {
                ["rssBeforeKiB"] = before.RssKiB,
                ["rssAfterKiB"] = after.RssKiB,
                ["connectionsOpenedPerSecond"] = connections.Count / connections.OpenSeconds,
            });
    }
}
