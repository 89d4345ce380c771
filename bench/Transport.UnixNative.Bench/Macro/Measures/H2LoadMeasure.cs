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

    // Less JIT work than this in a 0.5 s step counts as idle: under load a few late methods (1–6 ms a step)
    // keep coming for many seconds without moving the rate; a tier-up burst is 30–400 ms.
    private const double IdleJitSeconds = 0.005;

    // The runtime's background tier-1 compiler (the kernel keeps 15 bytes of a thread's name).
    private const string TieringThread = ".NET Tiered Com";

    /// <summary>
    /// Load in steps of 0.5 s for at least <see cref="BenchOptions.Warmup"/>, then until two steps
    /// in a row differ by less than 5% and a .NET server's tiered compilation thread ran less than 5 ms
    /// in the last step (per core: in each of the last two), at most ten times the warm-up (per core:
    /// <see cref="BenchOptions.PinnedMaxWarmup"/>, 30 s). On 2 cores tiering goes on for 4–6 s under load
    /// and doubles the CPU per request meanwhile, while the rate can already look steady; on one core
    /// the big burst ends later and one quiet step (read in 10-ms ticks) stopped warm-ups at 2.5 s,
    /// 10–15% below the rate reached later.
    /// </summary>
    private static async Task<(TimeSpan Elapsed, bool Capped)> WarmUpAsync(MeasureContext context)
    {
        var warmup = context.Options.Warmup;
        var cap = context.Options.MaxWarmupOf(context.Scenario);
        if (warmup <= TimeSpan.Zero)
        {
            return (TimeSpan.Zero, false);
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double? previous = null;
        var quietStepsNeeded = context.Scenario.Pinned ? 2 : 1;
        var quietSteps = 0;
        var tiering = ProcStat.ReadThreadCpuSeconds(context.Server.Pid, TieringThread);
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
            var tieringNow = ProcStat.ReadThreadCpuSeconds(context.Server.Pid, TieringThread);
            quietSteps = tieringNow - tiering >= IdleJitSeconds ? 0 : quietSteps + 1; // no such thread (nginx): always quiet
            tiering = tieringNow;
            var steady = previous is { } p && p > 0 && Math.Abs(rate - p) / p < SteadyChange && quietSteps >= quietStepsNeeded;
            previous = rate;
            if (clock.Elapsed >= warmup && steady)
            {
                return (clock.Elapsed, false);
            }
            if (clock.Elapsed >= cap)
            {
                return (clock.Elapsed, true);
            }
        }
    }

    public async Task<Measurement> MeasureAsync(MeasureContext context)
    {
        var (scenario, h2load, ct) = (context.Scenario, context.H2Load, context.CancellationToken);
        var (warmedUp, capped) = await WarmUpAsync(context).ConfigureAwait(false);

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
                ["warmupCapped"] = capped ? 1 : 0, // 1: still compiling or unsteady when the cap ended it
            });
    }
}
