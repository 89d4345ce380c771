using System.Diagnostics;

namespace Transport.UnixNative.Bench.Drivers;

/// <summary>Percentiles of per-request latencies, in microseconds.</summary>
internal readonly record struct LatencySummary(double P50Us, double P99Us, long Count)
{
    /// <summary>Nearest-rank percentiles; sorts <paramref name="microseconds"/> in place.</summary>
    public static LatencySummary FromMicroseconds(Span<long> microseconds)
    {
        if (microseconds.IsEmpty)
        {
            throw new InvalidOperationException("no latencies were recorded");
        }
        microseconds.Sort();
        return new LatencySummary(Percentile(microseconds, 0.50), Percentile(microseconds, 0.99), microseconds.Length);
    }

    /// <summary>Stopwatch tick counts to microseconds, then <see cref="FromMicroseconds"/>.</summary>
    public static LatencySummary FromStopwatchTicks(IEnumerable<List<long>> perConnectionTicks)
    {
        var all = perConnectionTicks.SelectMany(t => t).Select(t => t * 1_000_000 / Stopwatch.Frequency).ToArray();
        return FromMicroseconds(all);
    }

    /// <summary>The smallest value with at least <paramref name="fraction"/> of all values at or below it.</summary>
    public static double Percentile(ReadOnlySpan<long> sorted, double fraction)
    {
        var rank = (int)Math.Ceiling(fraction * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>What one of our own drivers measured.</summary>
/// <param name="Completed">Requests (or connections, for churn) that finished with status 200.</param>
/// <param name="Errors">Requests that failed; <paramref name="FirstError"/> says how the first did.</param>
internal sealed record DriverResult(long Completed, long Errors, double Seconds, LatencySummary Latency, string? FirstError);
