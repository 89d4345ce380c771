namespace Transport.UnixNative.Bench.Macro.Measures;

/// <summary>
/// Warm-up, then a throughput run bracketed by /proc samples of the server, then a separate
/// latency run with <c>--log-file</c> at the same concurrency (the log costs h2load about 30%
/// of its throughput, so it must not share a run with the req/s figure).
/// </summary>
internal sealed class H2LoadMeasure : IMeasure
{
    private static readonly TimeSpan WarmupStep = TimeSpan.FromSeconds(0.5);
    private const double SteadyChange = 0.05;
    private const int MaxWarmupFactor = 10;

    // The runtime's background tier-1 compiler (the kernel keeps 15 bytes of a thread's name).
    private const string TieringThread = ".NET Tiered Com";

    /// <summary>
    /// Load in steps of 0.5 s for at least <see cref="BenchOptions.Warmup"/>, then until two steps
    /// in a row differ by less than 5% and a .NET server's tiered compilation thread used no CPU
    /// in the last step, at most ten times the warm-up. On 2 cores tiering goes on for 4–6 s under
    /// load and doubles the CPU per request meanwhile, while the rate can already look steady.
    /// </summary>
    private static async Task<TimeSpan> WarmUpAsync(MeasureContext context)
    {
        var warmup = context.Options.Warmup;
        if (warmup <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double? previous = null;
        var tiering = ProcStat.ReadThreadCpuTicks(context.Server.Pid, TieringThread);
        while (true)
        {
            double rate;
            try
            {
                var step = await context.H2Load.RunAsync(context.Target, context.Scenario, WarmupStep, logFile: null, context.CancellationToken).ConfigureAwait(false);
                rate = step.Succeeded / step.Seconds;
            }
            catch (IOException)
            {
                // On a loaded machine a short step may end before its connections are up; the measured run tells.
                rate = 0;
            }
            var tieringNow = ProcStat.ReadThreadCpuTicks(context.Server.Pid, TieringThread);
            var compiled = tieringNow - tiering > 1; // a tick or less: idle but for rounding
            tiering = tieringNow;
            var steady = previous is { } p && p > 0 && Math.Abs(rate - p) / p < SteadyChange && !compiled;
            previous = rate;
            if (clock.Elapsed >= warmup * MaxWarmupFactor || (clock.Elapsed >= warmup && steady))
            {
                return clock.Elapsed;
            }
        }
    }

    public async Task<Measurement> MeasureAsync(MeasureContext context)
    {
        var (scenario, h2load, ct) = (context.Scenario, context.H2Load, context.CancellationToken);
        var warmedUp = await WarmUpAsync(context).ConfigureAwait(false);

        var window = context.StartWindow();
        var throughput = await h2load.RunAsync(context.Target, scenario, context.Options.Duration, logFile: null, ct).ConfigureAwait(false);
        var cost = context.EndWindow(window);

        var logFile = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.log");
        Drivers.LatencySummary latency;
        H2LoadOutput latencyRun;
        try
        {
            latencyRun = await h2load.RunAsync(context.Target, scenario, context.Options.LatencyDuration, logFile, ct).ConfigureAwait(false);
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
                ["warmupSeconds"] = warmedUp.TotalSeconds,
            });
    }
}
