using System.Diagnostics;

namespace Transport.UnixNative.Bench.Macro;

/// <summary>
/// Before a measurement starts its server, waits (up to a limit) until other processes leave the
/// CPUs mostly idle: on a shared machine a test suite running next door changes every number.
/// </summary>
internal sealed class QuietGate(TimeSpan maxWait, TextWriter log)
{
    private const double BusyThreshold = 0.25;
    private static readonly TimeSpan SampleTime = TimeSpan.FromMilliseconds(250);

    /// <summary>Returns how long it waited.</summary>
    public async Task<TimeSpan> WaitAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var told = false;
        while (true)
        {
            var busy = await BusyShareAsync(cancellationToken).ConfigureAwait(false);
            if (busy < BusyThreshold || clock.Elapsed >= maxWait)
            {
                if (told)
                {
                    log.WriteLine(busy < BusyThreshold
                        ? $"  (waited {clock.Elapsed.TotalSeconds:F0} s for other processes to quiet down)"
                        : $"  (other processes still use {busy:P0} of the CPUs after {clock.Elapsed.TotalSeconds:F0} s; measuring anyway)");
                }
                return clock.Elapsed;
            }
            if (!told)
            {
                log.WriteLine($"  other processes use {busy:P0} of the CPUs; waiting up to {maxWait.TotalSeconds:F0} s…");
                told = true;
            }
        }
    }

    /// <summary>The share of all cores busy over a short sample while this harness itself is idle.</summary>
    private static async Task<double> BusyShareAsync(CancellationToken cancellationToken)
    {
        var before = ProcStat.ReadMachine();
        var clock = Stopwatch.StartNew();
        await Task.Delay(SampleTime, cancellationToken).ConfigureAwait(false);
        var after = ProcStat.ReadMachine();
        var others = (after.BusySeconds - before.BusySeconds) - (after.OursSeconds - before.OursSeconds);
        return others / (clock.Elapsed.TotalSeconds * Environment.ProcessorCount);
    }
}
