using System.Globalization;
using System.Text;
using Transport.UnixNative.Bench.Macro;

namespace Transport.UnixNative.Bench.Report;

/// <summary>The tables a person reads first (printed and written next to the JSON): per core, then contention.</summary>
internal static class MarkdownReport
{
    public static string Write(RunInfo info, BenchRun run, IReadOnlyList<SummaryRow> rows)
    {
        var md = new StringBuilder();
        md.AppendLine($"Transport.UnixNative vs Kestrel's Sockets transport and nginx — {run.Started:yyyy-MM-dd HH:mm} UTC, commit {info.Commit}");
        md.AppendLine();
        md.AppendLine($"{info.Cores} cores ({info.Cpu}), Linux {info.Kernel}, {info.Runtime}, {info.H2Load}.");
        md.AppendLine($"Median (and min–max) of {info.Rounds} round(s) for the per-core rows and the contention table's headline rows (minimal app under h2load, marked ★), {info.OtherRounds} for the other contention rows; " +
                      $"each run {info.DurationSeconds:0.##} s (latency runs {info.LatencySeconds:0.##} s) after a warm-up of at least {info.WarmupSeconds:0.##} s that goes on until the rate is steady and a .NET server's tiered-compilation thread is idle " +
                      $"(at most 10 times as long; per core at most {info.PinnedMaxWarmupSeconds:0.##} s), on a freshly started server, " +
                      "the transports taking turns within each round in an order rotated every round; " +
                      "req/s and CPU from a throughput run, p50/p99 from a separate latency run (h2load --log-file) at the same concurrency. " +
                      "Apps: *minimal app* = bench/MinimalApp (one MapGet per route, no middleware: the same work per request on every transport); " +
                      "*WebOverUds sample* = samples/WebOverUds as shipped (UnixPeer authentication on every request, which only our transport can satisfy; on Sockets the handler finds no credentials and stops). " +
                      "Ratios = this row ÷ the row named in the cell: Kestrel's Sockets transport on the same kind of unix socket, or for the seqpacket rows our own transport on SOCK_STREAM " +
                      "(throughput: > 1 is better, except KiB/conn; CPU and p99: < 1 is better); ÷ nginx = our row ÷ nginx's in the same scenario. nginx runs as one process (master_process off, one worker). " +
                      "CPU = server utime+stime per 100,000 requests (connections for churn and idle). " +
                      "others = share of all cores used by processes other than server and client during the measured window (noise: should be near 0%). " +
                      "Workstation GC, Production, log level Warning.");
        foreach (var note in run.Notes)
        {
            md.AppendLine();
            md.AppendLine($"Note: {note}");
        }
        foreach (var placement in rows.Select(r => r.Scenario.Placement).Distinct())
        {
            var mine = rows.Where(r => r.Scenario.Placement == placement).ToArray();
            md.AppendLine();
            if (placement == Placement.Pinned)
            {
                md.AppendLine("#### Per core: the server alone on one core");
                md.AppendLine();
                md.AppendLine($"The server (all its threads; nginx's single process) runs under `taskset -c {CorePinning.ServerCore}`, h2load under `taskset -c {CorePinning.LoadCore}`: " +
                              "what a 1-CPU sidecar serves, and a cheaper server cannot hand its CPU to the load generator. The .NET servers see one processor (ours then runs one I/O thread).");
            }
            else
            {
                md.AppendLine("#### Contention (server and load share both cores)");
                md.AppendLine();
                md.AppendLine("No pinning: server and h2load (or our drivers) run on every core, so a cheaper server also leaves more CPU to the load generator; read the CPU column along with req/s.");
            }
            md.AppendLine();
            Table(md, mine, star: placement == Placement.Shared);
            if (placement == Placement.Pinned)
            {
                TargetsBlock(md, Targets.Evaluate(mine));
            }
        }
        var busiest = rows.SelectMany(r => r.Rounds).Select(m => double.IsFinite(m.OthersCpuShare) ? m.OthersCpuShare : 0).DefaultIfEmpty(0).Max();
        if (busiest > 0.10)
        {
            md.AppendLine();
            md.AppendLine($"Note: the machine was shared: other processes used up to {Format.Share(busiest)} of the CPUs during a measured window (column 'others', per round in the JSON). " +
                          "Rows with a high share understate throughput and overstate latency; rerun on a quiet machine before drawing conclusions from them.");
        }
        var capped = rows.Where(r => r.Rounds.Any(m => m.Extra.TryGetValue("warmupCapped", out var c) && c > 0)).ToArray();
        if (capped.Length > 0)
        {
            md.AppendLine();
            md.AppendLine("Warm-up ended at its cap (rate not steady or the JIT still compiling) in: " +
                          string.Join(", ", capped.Select(r => $"{r.Scenario.Id} on {r.Variant.Id}")) + ".");
        }
        var troubled = rows.Where(r => r.ServerErrorLogs > 0).ToArray();
        if (troubled.Length > 0)
        {
            md.AppendLine();
            md.AppendLine("⚠ The server logged errors during these measurements, so their numbers include whatever the errors cost:");
            foreach (var row in troubled)
            {
                var first = row.Rounds.Select(m => m.FirstServerErrorLog).FirstOrDefault(l => l is not null);
                md.AppendLine($"- {row.Scenario.Id} on {row.Variant.Id}: {row.ServerErrorLogs} fail/crit log entries over {row.Rounds.Count} round(s); first: `{Truncate(first, 300)}`");
            }
        }
        foreach (var skip in run.Skipped)
        {
            md.AppendLine();
            md.AppendLine($"Skipped {skip.Scenario} on {skip.Transport}: {skip.Reason}");
        }
        foreach (var failure in run.Failures)
        {
            md.AppendLine();
            md.AppendLine($"FAILED {failure.Scenario} on {failure.Transport}, round {failure.Round}: {failure.Reason}");
        }
        md.AppendLine();
        md.AppendLine($"Command: `{info.Command}` ({(run.Finished - run.Started).TotalMinutes:F1} min)");
        return md.ToString();
    }

    private static void Table(StringBuilder md, IReadOnlyList<SummaryRow> rows, bool star)
    {
        md.AppendLine("| scenario — app | server | throughput | min–max | ratio | ÷ nginx | p50 | p99 | p99 ratio | server CPU-s / 100k | min–max | ratio | peak RSS | others |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        string? lastScenario = null;
        foreach (var row in rows)
        {
            var scenario = row.Scenario.Id == lastScenario ? "" : (star && row.Scenario.Headline ? "★ " : "") + row.Scenario.FullTitle;
            lastScenario = row.Scenario.Id;
            var against = " " + row.Scenario.BaselineName;
            var value = Format.Value(row.Value, row.Scenario.Unit)
                + (row.Errors > 0 ? $" ({row.Errors} errors)" : "")
                + (row.ServerErrorLogs > 0 ? " ⚠" : "");
            md.AppendLine(string.Join(" | ",
                "| " + scenario,
                row.Variant.IsOurs ? $"**{row.Variant.Label}**" : row.Variant.Label,
                value,
                row.Rounds.Count > 1 ? Format.Spread(row.ValueSpread, row.Scenario.Unit) : "",
                row.ValueRatio is null ? "" : Format.Ratio(row.ValueRatio) + against,
                Format.Ratio(row.NginxRatio),
                row.P50Us is { } p50 ? Format.Latency(p50) : "",
                row.P99Us is { } p99 ? Format.Latency(p99) : "",
                row.P99Ratio is null ? "" : Format.Ratio(row.P99Ratio),
                Format.Cpu(row.CpuSecondsPer100k),
                row.Rounds.Count > 1 ? Format.CpuSpread(row.CpuSpread) : "",
                row.CpuRatio is null ? "" : Format.Ratio(row.CpuRatio) + against,
                Format.Rss(row.PeakRssKiB),
                Format.Share(row.OthersCpuShare)) + " |");
        }
    }

    /// <summary>The per-core targets, met or missed, computed from this run.</summary>
    private static void TargetsBlock(StringBuilder md, IReadOnlyList<TargetResult> results)
    {
        if (results.Count == 0)
        {
            return;
        }
        md.AppendLine();
        md.AppendLine("Targets per core (issue 23), computed from this run: the ratio of the medians as in the table, and min–max of the ratios within each round.");
        md.AppendLine();
        md.AppendLine("| target | goal | measured | min–max per round | |");
        md.AppendLine("|---|---:|---:|---:|---|");
        foreach (var result in results)
        {
            var spread = result.Spread is { } s ? string.Create(CultureInfo.InvariantCulture, $"{s.Min:F2}–{s.Max:F2}× ({result.Rounds} round(s))") : "";
            var verdict = result.Met switch { true => "met", false => "**missed**", null => "not measured" };
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {result.Target.Label} | ≥ {result.Target.Goal:F1}× | {Format.Ratio(result.Ratio)} | {spread} | {verdict} |"));
        }
    }

    private static string Truncate(string? text, int length) => text is null ? "" : text.Length <= length ? text : text[..length] + "…";
}
