using Transport.UnixNative.Bench.Macro;

namespace Transport.UnixNative.Bench.Report;

/// <summary>A per-core goal (issue 23): ours ÷ another server in one scenario of the per-core table, at least <paramref name="Goal"/>.</summary>
internal sealed record Target(string Label, string ScenarioId, TransportVariant Against, double Goal);

/// <summary>How the run did against a target: the ratio of the medians (as in the table) and the spread of the per-round ratios.</summary>
internal sealed record TargetResult(Target Target, double? Ratio, (double Min, double Max)? Spread, int Rounds)
{
    public bool? Met => Ratio is { } r ? r >= Target.Goal : null;
}

internal static class Targets
{
    public static IReadOnlyList<Target> All { get; } =
    [
        new("h1 c32: ours ÷ Sockets, req/s", "h1-c32/minimal/per-core", TransportVariant.Sockets, 2.0),
        new("inline scheduling: ours ÷ nginx, req/s", "h1-inline/minimal/per-core", TransportVariant.Nginx, 0.9),
        new("pipelined -m 16: ours ÷ Sockets, req/s", "h1-pipelined/minimal/per-core", TransportVariant.Sockets, 1.5),
        new("h2c -m 32: ours ÷ Sockets, req/s", "h2c-c32/minimal/per-core", TransportVariant.Sockets, 1.6),
        new("1 MiB GET: ours ÷ Sockets, MB/s", "get-1mib/minimal/per-core", TransportVariant.Sockets, 1.2),
    ];

    /// <summary>
    /// Each target the run measured both sides of. The spread pairs the two servers' measurements of the same
    /// round (they ran one after the other, so a round's drift touches both).
    /// </summary>
    public static IReadOnlyList<TargetResult> Evaluate(IReadOnlyList<SummaryRow> rows)
    {
        var results = new List<TargetResult>();
        foreach (var target in All)
        {
            var ours = rows.FirstOrDefault(r => r.Scenario.Id == target.ScenarioId && r.Variant == TransportVariant.Native);
            var other = rows.FirstOrDefault(r => r.Scenario.Id == target.ScenarioId && r.Variant == target.Against);
            if (ours is null || other is null)
            {
                continue;
            }
            var perRound = ours.Rounds
                .Join(other.Rounds, m => m.Round, m => m.Round, (a, b) => a.Value / b.Value)
                .Where(double.IsFinite)
                .ToArray();
            results.Add(new TargetResult(target, ours.Value / other.Value, perRound.Length == 0 ? null : (perRound.Min(), perRound.Max()), perRound.Length));
        }
        return results;
    }
}
