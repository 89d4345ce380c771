using System.Text.Json;
using System.Text.Json.Serialization;
using Transport.UnixNative.Bench.Macro;

namespace Transport.UnixNative.Bench.Report;

/// <summary>Every number of the run, medians and each round, for later comparison by a program.</summary>
internal static class JsonReport
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static void Write(string path, RunInfo info, BenchRun run, IReadOnlyList<SummaryRow> rows)
    {
        var document = new
        {
            info,
            run.Started,
            run.Finished,
            Results = rows.Select(r => new
            {
                Scenario = r.Scenario.Name,
                App = r.Scenario.Server.Id,
                Placement = r.Scenario.Pinned ? "per-core" : "shared",
                r.Scenario.Title,
                Unit = r.Scenario.Unit.Name,
                r.Scenario.Unit.HigherIsBetter,
                Transport = r.Variant.Id,
                r.Variant.Label,
                r.Value,
                r.P50Us,
                r.P99Us,
                r.CpuSecondsPer100k,
                r.PeakRssKiB,
                r.Errors,
                Baseline = r.Scenario.Baseline.Id,
                ValueRatioToBaseline = r.ValueRatio,
                CpuRatioToBaseline = r.CpuRatio,
                P99RatioToBaseline = r.P99Ratio,
                ValueRatioToNginx = r.NginxRatio,
                ValueMin = r.ValueSpread.Min,
                ValueMax = r.ValueSpread.Max,
                CpuMin = r.CpuSpread?.Min,
                CpuMax = r.CpuSpread?.Max,
                r.Rounds,
            }),
            Targets = Targets.Evaluate(rows).Select(t => new
            {
                t.Target.Label,
                Scenario = t.Target.ScenarioId,
                Against = t.Target.Against.Id,
                t.Target.Goal,
                t.Ratio,
                RoundRatioMin = t.Spread?.Min,
                RoundRatioMax = t.Spread?.Max,
                t.Met,
            }),
            run.Notes,
            run.Skipped,
            run.Failures,
        };
        File.WriteAllText(path, JsonSerializer.Serialize(document, Options));
    }
}
