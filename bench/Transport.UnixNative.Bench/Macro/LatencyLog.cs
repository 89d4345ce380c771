using System.Globalization;
using System.Runtime.InteropServices;
using Transport.UnixNative.Bench.Drivers;

namespace Transport.UnixNative.Bench.Macro;

/// <summary>
/// h2load's <c>--log-file</c>: one line per request, tab-separated: start time (µs since the
/// epoch), HTTP status (-1 for a failed stream), microseconds until the end of the response.
/// </summary>
internal static class LatencyLog
{
    public static LatencySummary Read(string path)
    {
        var latencies = new List<long>(1 << 18);
        long failed = 0;
        foreach (var line in File.ReadLines(path))
        {
            var fields = line.Split('\t');
            if (fields.Length < 3
                || !int.TryParse(fields[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var status)
                || !long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var micros))
            {
                throw new FormatException($"{path}: not an h2load log line: '{line}'");
            }
            if (status is < 200 or > 299)
            {
                failed++;
                continue;
            }
            latencies.Add(micros);
        }
        if (failed > 0)
        {
            throw new IOException($"{path}: {failed} of {failed + latencies.Count} requests in the latency run failed or were not 2xx");
        }
        return LatencySummary.FromMicroseconds(CollectionsMarshal.AsSpan(latencies));
    }
}
