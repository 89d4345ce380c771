using Transport.UnixNative.Bench.Macro;

namespace Transport.UnixNative.Bench.Report;

/// <summary>One line of the report: medians over rounds with their min–max, and ratios to the scenario's baseline (Kestrel's Sockets transport on the same unix socket unless the scenario says otherwise).</summary>
/// <param name="ValueRatio">This row's headline value ÷ the baseline row's, or null for that row itself.</param>
/// <param name="OthersCpuShare">Median share of the CPUs used by other processes during the measured windows.</param>
/// <param name="CpuRatio">This row's CPU per 100k ÷ the baseline row's.</param>
/// <param name="ValueSpread">Lowest and highest headline value over the rounds.</param>
/// <param name="CpuSpread">Lowest and highest CPU per 100k over the rounds.</param>
/// <param name="P99Ratio">This row's p99 ÷ the baseline row's.</param>
/// <param name="NginxRatio">Our rows' headline value ÷ nginx's in the same scenario, where nginx answered it.</param>
internal sealed record SummaryRow(
    Scenario Scenario,
    TransportVariant Variant,
    double Value,
    double? P50Us,
    double? P99Us,
    double? CpuSecondsPer100k,
    double PeakRssKiB,
    long Errors,
    int ServerErrorLogs,
    double? OthersCpuShare,
    double? ValueRatio,
    double? CpuRatio,
    IReadOnlyList<Measurement> Rounds,
    (double Min, double Max) ValueSpread,
    (double Min, double Max)? CpuSpread,
    double? P99Ratio,
    double? NginxRatio);

internal static class Summary
{
    public static IReadOnlyList<SummaryRow> Build(IReadOnlyList<Scenario> scenarios, BenchRun run)
    {
        var rows = new List<SummaryRow>();
        foreach (var scenario in scenarios)
        {
            var medians = scenario.Variants
                .Select(v => (Variant: v, Rounds: run.Measurements.Where(m => m.Scenario == scenario.Id && m.Transport == v.Id).ToArray()))
                .Where(x => x.Rounds.Length > 0)
                .Select(x => (x.Variant, x.Rounds,
                    Value: Statistics.Median(x.Rounds.Select(m => m.Value))!.Value,
                    P50: Statistics.Median(x.Rounds.Select(m => m.P50Us)),
                    P99: Statistics.Median(x.Rounds.Select(m => m.P99Us)),
                    Cpu: Statistics.Median(x.Rounds.Select(m => m.CpuSecondsPer100k)),
                    Rss: Statistics.Median(x.Rounds.Select(m => (double)m.PeakRssKiB))!.Value))
                .ToArray();
            var baseline = medians.FirstOrDefault(x => x.Variant == scenario.Baseline);
            var nginx = medians.FirstOrDefault(x => x.Variant == TransportVariant.Nginx);
            foreach (var x in medians)
            {
                var isBaseline = x.Variant == scenario.Baseline;
                var cpus = x.Rounds.Select(m => m.CpuSecondsPer100k).Where(c => c is { } d && double.IsFinite(d)).Select(c => c!.Value).ToArray();
                rows.Add(new SummaryRow(
                    scenario,
                    x.Variant,
                    x.Value,
                    x.P50,
                    x.P99,
                    x.Cpu,
                    x.Rss,
                    x.Rounds.Sum(m => m.Errors),
                    x.Rounds.Sum(m => m.ServerErrorLogs),
                    Statistics.Median(x.Rounds.Select(m => (double?)m.OthersCpuShare)),
                    baseline.Rounds is null || isBaseline ? null : x.Value / baseline.Value,
                    baseline.Rounds is null || isBaseline || x.Cpu is null || baseline.Cpu is null ? null : x.Cpu / baseline.Cpu,
                    x.Rounds,
                    (x.Rounds.Min(m => m.Value), x.Rounds.Max(m => m.Value)),
                    cpus.Length == 0 ? null : (cpus.Min(), cpus.Max()),
                    baseline.Rounds is null || isBaseline || x.P99 is null || baseline.P99 is null ? null : x.P99 / baseline.P99,
                    nginx.Rounds is null || !x.Variant.IsOurs ? null : x.Value / nginx.Value));
            }
        }
        return rows;
    }
}
