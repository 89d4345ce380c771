using System.Globalization;
using Transport.UnixNative.Bench.Native;
using Transport.UnixNative.Bench.Report;

namespace Transport.UnixNative.Bench.Macro;

/// <summary>The side-by-side run: build, measure every scenario on every transport, write table, JSON and chart.</summary>
internal static class MacroBenchmark
{
    public static Task<int> RunAsync(IReadOnlyList<string> args)
        => SuiteEntry.RunAsync(args, Parse, BenchOptions.Usage, (parsed, cancellationToken) => RunAsync(args, parsed.Options, parsed.Scenarios, cancellationToken));

    private static (BenchOptions Options, IReadOnlyList<Scenario> Scenarios) Parse(IReadOnlyList<string> args)
    {
        var options = BenchOptions.Parse(args);
        return (options, options.SelectScenarios());
    }

    private static async Task<int> RunAsync(IReadOnlyList<string> args, BenchOptions options, IReadOnlyList<Scenario> scenarios, CancellationToken cancellationToken)
    {
        var log = Console.Out;
        var notes = new List<string>();
        if (scenarios.Any(s => s.Pinned) && CorePinning.WhyUnavailable() is { } why)
        {
            notes.Add($"no per-core table: {why}.");
            scenarios = scenarios.Where(s => !s.Pinned).ToArray();
        }
        foreach (var note in notes)
        {
            log.WriteLine($"note: {note}");
        }
        if (options.PlanOnly)
        {
            foreach (var scenario in scenarios)
            {
                log.WriteLine($"{(scenario.Pinned ? "per core" : "shared  ")} {scenario.Name,-14} {scenario.Server.Id,-7} {options.RoundsOf(scenario)} round(s): {string.Join(", ", options.VariantsOf(scenario).Select(v => v.Id))}");
            }
            PrintEstimate(log, options, scenarios);
            return 0;
        }
        var layout = SampleBuild.Locate(options.Root);
        var h2load = new H2LoadRunner(options.H2Load);
        var info = await RunInfo.CollectAsync(layout.Root, options, h2load, args, cancellationToken).ConfigureAwait(false);
        var fileLimit = BenchNative.RaiseFileLimit();
        if (scenarios.Any(s => s.Kind == ScenarioKind.IdleConnections) && (long)fileLimit < options.IdleConnections + 1024L)
        {
            log.WriteLine($"note: this process may open only {fileLimit} descriptors; the idle scenario needs about {options.IdleConnections + 1024}.");
        }
        var apps = scenarios.Select(s => s.Server).Distinct().ToArray();
        if (options.Build)
        {
            await layout.BuildAsync(apps, log, cancellationToken).ConfigureAwait(false);
        }
        foreach (var app in apps.Where(a => !File.Exists(layout.DllOf(a))))
        {
            throw new FileNotFoundException($"no build of {app.ProjectPath} at {layout.DllOf(app)}; run without --no-build");
        }

        log.WriteLine($"{info.Cores} cores, {info.Runtime}, {info.H2Load}; {options.Rounds} round(s) × {Format.Seconds(options.Duration)} s (latency runs {Format.Seconds(options.LatencyDuration)} s), warm-up {Format.Seconds(options.Warmup)} s");
        PrintEstimate(log, options, scenarios);
        var run = await new BenchRunner(options, layout, h2load, log).RunAsync(scenarios, cancellationToken).ConfigureAwait(false);
        run.Notes.AddRange(notes);
        var rows = Summary.Build(scenarios, run);

        var outputDirectory = options.OutputDirectory ?? Path.Combine(layout.Root, "bench", "results");
        Directory.CreateDirectory(outputDirectory);
        var stem = Path.Combine(outputDirectory, run.Started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        var markdown = MarkdownReport.Write(info, run, rows);
        File.WriteAllText(stem + ".md", markdown);
        JsonReport.Write(stem + ".json", info, run, rows);
        File.WriteAllText(stem + ".svg", SvgChart.Write(info, rows));

        log.WriteLine();
        log.WriteLine(markdown);
        log.WriteLine($"Written: {stem}.json, {stem}.md, {stem}.svg");
        if (options.Publish)
        {
            DocsPage.Publish(layout.Root, markdown, stem + ".svg");
            log.WriteLine("Published: docs/benchmarks.md (Latest full run), docs/bench-latest.svg");
        }
        return run.Failures.Count == 0 ? 0 : 1;
    }

    private static void PrintEstimate(TextWriter log, BenchOptions options, IReadOnlyList<Scenario> scenarios)
    {
        foreach (var placement in scenarios.Select(s => s.Placement).Distinct())
        {
            var mine = scenarios.Where(s => s.Placement == placement).ToArray();
            log.WriteLine($"{(placement == Placement.Pinned ? "per core  " : "contention")}: {mine.Sum(s => options.VariantsOf(s).Count * options.RoundsOf(s))} measurements, about {options.Estimate(mine).TotalMinutes:F0} min");
        }
        log.WriteLine($"estimate: about {options.Estimate(scenarios).TotalMinutes:F0} min on a quiet 2-core machine, builds aside (longer on a busy one: it waits for quiet and measures again)");
    }
}
