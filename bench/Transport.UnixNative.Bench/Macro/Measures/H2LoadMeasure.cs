namespace Transport.UnixNative.Bench.Macro.Measures;

/// <summary>
/// Warm-up, then a throughput run bracketed by /proc samples of the server, then a separate
/// latency run with <c>--log-file</c> at the same concurrency (the log costs h2load about 30%
/// of its throughput, so it must not share a run with the req/s figure).
/// </summary>
internal sealed class H2LoadMeasure : IMeasure
{
    public async Task<Measurement> MeasureAsync(MeasureContext context)
    {
        var (scenario, h2load, ct) = (context.Scenario, context.H2Load, context.CancellationToken);
        if (context.Options.Warmup > TimeSpan.Zero)
        {
            await h2load.RunAsync(context.Target, scenario, context.Options.Warmup, logFile: null, ct).ConfigureAwait(false);
        }

        var window = context.StartWindow();
        var throughput = await h2load.RunAsync(context.Target, scenario, context.Options.Duration, logFile: null, ct).ConfigureAwait(false);
        var cost = context.EndWindow(window);

        var logFile = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.log");
        Drivers.LatencySummary latency;
        H2LoadOutput latencyRun;
        try
        {
            latencyRun = await h2load.RunAsync(context.Target, scenario, context.Options.Duration, logFile, ct).ConfigureAwait(false);
            latency = LatencyLog.Read(logFile);
        }
        finally
        {
            File.Delete(logFile);
        }

        var value = scenario.Unit == MetricUnit.MegabytesPerSecond
            ? throughput.DataBytes / throughput.Seconds / 1e6
            : throughput.RequestsPerSecond;
        return context.Result(
            value,
            latency.P50Us,
            latency.P99Us,
            cost.CpuPer100k(throughput.Succeeded),
            throughput.Succeeded,
            throughput.Seconds,
            extra: new Dictionary<string, double>
            {
                ["requestsPerSecond"] = throughput.RequestsPerSecond,
                ["dataBytes"] = throughput.DataBytes,
                ["latencyRunRequestsPerSecond"] = latencyRun.RequestsPerSecond,
                ["latencySamples"] = latency.Count,
            });
    }
}
