using Transport.UnixNative.Bench.Drivers;

namespace Transport.UnixNative.Bench.Macro.Measures;

/// <summary>Keep-alive request/response loops with our own driver (stream or seqpacket alike).</summary>
internal sealed class RequestLoopMeasure : IMeasure
{
    public async Task<Measurement> MeasureAsync(MeasureContext context)
    {
        var (scenario, ct) = (context.Scenario, context.CancellationToken);
        if (context.Options.Warmup > TimeSpan.Zero)
        {
            await RequestLoopDriver.RunAsync(context.Target, scenario.Path, scenario.Connections, context.Options.Warmup, ct).ConfigureAwait(false);
        }
        var window = context.StartWindow();
        var run = await RequestLoopDriver.RunAsync(context.Target, scenario.Path, scenario.Connections, context.Options.Duration, ct).ConfigureAwait(false);
        var cost = context.EndWindow(window);
        if (run.Errors > 0)
        {
            throw new IOException($"{run.Errors} of {run.Completed + run.Errors} requests failed: {run.FirstError}");
        }
        // Latency comes from the same run: our driver's timestamps cost nothing next to a syscall.
        // For /bytes/N the headline is body megabytes per second, like h2load's 1 MiB scenario.
        var value = scenario.Unit == MetricUnit.MegabytesPerSecond
            ? run.Completed * (double)BodyBytes(scenario.Path) / run.Seconds / 1e6
            : run.Completed / run.Seconds;
        return context.Result(
            value,
            run.Latency.P50Us,
            run.Latency.P99Us,
            cost.CpuPer100k(run.Completed),
            run.Completed,
            run.Seconds);
    }

    private static long BodyBytes(string path) => path.StartsWith("/bytes/", StringComparison.Ordinal)
        ? long.Parse(path["/bytes/".Length..], System.Globalization.CultureInfo.InvariantCulture)
        : throw new ArgumentException($"MB/s needs a /bytes/N path, not '{path}'.");
}
