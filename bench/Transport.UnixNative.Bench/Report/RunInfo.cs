using System.Diagnostics;
using System.Runtime.InteropServices;
using Transport.UnixNative.Bench.Macro;

namespace Transport.UnixNative.Bench.Report;

/// <summary>Where and how the numbers were taken: without this a table cannot be compared with another.</summary>
internal sealed record RunInfo(
    string Command,
    string Cpu,
    int Cores,
    string Kernel,
    string Runtime,
    string H2Load,
    string Commit,
    int Rounds,
    double DurationSeconds,
    double WarmupSeconds,
    int OtherRounds,
    double LatencySeconds,
    double PinnedMaxWarmupSeconds,
    IReadOnlyList<string> Placements)
{
    public static async Task<RunInfo> CollectAsync(string root, BenchOptions options, H2LoadRunner h2load, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
        var kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        var commit = (Git(root, "rev-parse", "--short", "HEAD") ?? "unknown") + (string.IsNullOrWhiteSpace(Git(root, "status", "--porcelain", "--untracked-files=no")) ? "" : " (with uncommitted changes)");
        return new RunInfo(
            "dotnet run -c Release --project bench/Transport.UnixNative.Bench --" + (args.Count == 0 ? "" : " " + string.Join(' ', args)),
            cpu,
            Environment.ProcessorCount,
            kernel,
            RuntimeInformation.FrameworkDescription,
            await h2load.VersionAsync(cancellationToken).ConfigureAwait(false),
            commit,
            options.Rounds,
            options.Duration.TotalSeconds,
            options.Warmup.TotalSeconds,
            Math.Min(options.Rounds, options.OtherRounds),
            options.LatencyDuration.TotalSeconds,
            options.PinnedMaxWarmup.TotalSeconds,
            options.Placements.Select(p => p == Placement.Pinned ? "per-core" : "shared").ToArray());
    }

    private static string? Git(string root, params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }
            using var git = Process.Start(info);
            if (git is null)
            {
                return null;
            }
            var output = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return git.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no git here: the commit is simply unknown
        }
    }
}
