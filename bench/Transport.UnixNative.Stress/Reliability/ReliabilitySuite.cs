using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Stress.Reliability;

/// <summary>
/// <c>--reliability</c>: every check on both transports, one table. Printed, and written to
/// <c>--out FILE</c> (docs/reliability.md is such a file).
/// </summary>
internal static class ReliabilitySuite
{
    private static readonly IReliabilityCheck[] Checks =
    [
        new HeldConnectionsCheck(),
        new ChurnCheck(),
        new HostilePeersCheck(),
        new SlowClientsCheck(),
        new EmfileStormCheck(),
        new KillRestartCheck(),
    ];

    public static Task<int> RunAsync(IReadOnlyList<string> args)
        => SuiteEntry.RunAsync(args, ReliabilityOptions.Parse, ReliabilityOptions.Usage, (options, cancellationToken) => RunAsync(args, options, cancellationToken));

    private static async Task<int> RunAsync(IReadOnlyList<string> args, ReliabilityOptions options, CancellationToken cancellationToken)
    {
        var log = Console.Out;
        var started = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        var layout = await SampleBuild.LocateSampleAsync(options.Root, options.Build, log, cancellationToken).ConfigureAwait(false);
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        var report = new ReliabilityReport();
        var context = new CheckContext(layout.Dll, options, Target.Both, report, log, cancellationToken);
        var failures = new List<string>();
        var selected = Checks.Where(c => options.Checks.Contains(c.Name)).ToArray();
        for (var i = 0; i < selected.Length; i++)
        {
            var check = selected[i];
            log.WriteLine($"{check.Name}:");
            try
            {
                await check.RunAsync(context, i).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // One check that cannot run is a line in the table, not the end of the suite.
                failures.Add($"{check.Name}: {ex.GetType().Name}: {ex.Message}");
                report.Note($"The {check.Name} check could not run: {ServerChecks.Shorten(ex.Message, 300)}");
                log.WriteLine($"  {check.Name} failed: {ex}");
            }
        }

        var loadAfter = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        var cores = Environment.ProcessorCount;
        // Only the start says whether other work shared the machine: by the end the 1-minute
        // load average is mostly the suite's own server and clients (about 3 on 2 cores).
        var busy = double.Parse(load, CultureInfo.InvariantCulture) > cores / 2.0;
        var machine = string.Join(" ", [
            $"Measured {started:yyyy-MM-dd HH:mm} UTC in {clock.Elapsed.TotalMinutes:F1} min on {cores} cores ({Cpu()}), Linux {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, {RuntimeInformation.FrameworkDescription}, commit {layout.Commit()};",
            $"load average {load} at the start, {loadAfter} at the end (the suite's own load included).",
            busy ? "The machine was busy with other work when this started: times and CPU shares are disturbed, read the two columns side by side." : "",
            options.Quick ? "This was a --quick run (small counts)." : "",
        ]).Trim();
        var markdown = report.ToMarkdown(CommandLine(args, layout.Root), machine, Target.Both);
        log.WriteLine();
        log.WriteLine(markdown);
        if (options.OutputFile is { } file)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, markdown);
            log.WriteLine($"Written: {file}");
        }
        return failures.Count == 0 ? 0 : 1;
    }

    /// <summary>The command that made this report, with --out relative to the repository so it can be pasted.</summary>
    private static string CommandLine(IReadOnlyList<string> args, string root)
    {
        var shown = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            shown.Add(args[i]);
            if (args[i] is "--out" or "--root" && i + 1 < args.Count)
            {
                shown.Add(Path.GetRelativePath(root, Path.GetFullPath(args[++i])));
            }
        }
        return "dotnet run -c Release --project bench/Transport.UnixNative.Stress -- " + string.Join(' ', shown);
    }

    private static string Cpu()
        => File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
}
