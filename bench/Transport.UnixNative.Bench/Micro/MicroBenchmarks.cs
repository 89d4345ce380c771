using BenchmarkDotNet.Running;

namespace Transport.UnixNative.Bench.Micro;

/// <summary>
/// BenchmarkDotNet over every benchmark class in this assembly (so classes added by anyone are
/// picked up without registration). A bare word is a filter: <c>--micro Gather</c> runs <c>*Gather*</c>.
/// </summary>
internal static class MicroBenchmarks
{
    public static int Run(string[] args)
    {
        var switcherArgs = new List<string>();
        var filtered = args.Contains("--filter") || args.Contains("-f") || args.Contains("--list");
        foreach (var arg in args)
        {
            if (!arg.StartsWith('-') && switcherArgs.Count == 0 && !filtered)
            {
                switcherArgs.AddRange(["--filter", $"*{arg}*"]);
                filtered = true;
            }
            else
            {
                switcherArgs.Add(arg);
            }
        }
        if (!filtered)
        {
            // Without a filter BenchmarkDotNet asks interactively; a script wants them all.
            switcherArgs.AddRange(["--filter", "*"]);
        }
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(MicroBenchmarks).Assembly).Run(switcherArgs.ToArray());
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
