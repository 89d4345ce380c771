using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Transport.UnixNative.Stress.Reliability;

namespace Transport.UnixNative.Stress.Security;

/// <summary>
/// <c>--security</c>: what a hostile local user gets from the sample (samples/WebOverUds) on our transport:
/// a descriptor flood, three races, and which uids each kind of address admits by default. One table,
/// reporting what happened (a defect shows as such, nothing is assumed).
/// </summary>
internal static class SecuritySuite
{
    public const string Usage = """
        Security suite: hostile local peers against the sample (samples/WebOverUds) on our transport.
        Runs as root (it starts peers as unx-other and unx-member through setpriv, and a server as nobody).

          dotnet run -c Release --project bench/Transport.UnixNative.Stress -- --security [options]

        Options:
          --quick             10 tries per race and a 12 s flood (about a minute); default 50 tries, 30 s
          --tries N           tries per race
          --flood-seconds N   how long the descriptor flood lasts
          --flood-nofile N    the server's RLIMIT_NOFILE during the flood (default 8192)
          --out FILE          also write the report there
          --no-build          do not build the sample first
          --root DIR          the repository (default: found upwards from the working directory)
        """;

    public static Task<int> RunAsync(IReadOnlyList<string> args)
        => SuiteEntry.RunAsync(args, SecurityOptions.Parse, Usage, (options, cancellationToken) => RunAsync(args, options, cancellationToken));

    private static async Task<int> RunAsync(IReadOnlyList<string> args, SecurityOptions options, CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            Console.Error.WriteLine("--security runs on Linux as root: it starts peers as other users with setpriv.");
            return 2;
        }
        var log = Console.Out;
        var started = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        var layout = await SampleBuild.LocateSampleAsync(options.Root, options.Build, log, cancellationToken).ConfigureAwait(false);
        using var peers = SecurityPeers.Create();
        var report = new SecurityReport();
        var context = new SecurityContext(layout.Dll, options, peers, report, log, cancellationToken);
        var failures = 0;
        foreach (var (name, run) in new (string, Func<SecurityContext, Task>)[]
        {
            ("descriptor flood", SecurityChecks.FloodAsync),
            ("races", SecurityChecks.RacesAsync),
            ("default reach", SecurityChecks.ReachAsync),
        })
        {
            log.WriteLine($"{name}:");
            try
            {
                await run(context).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                failures++;
                report.Note($"The {name} check could not run: {ServerChecks.Shorten(ex.Message, 300)}");
                log.WriteLine($"  {name} failed: {ex}");
            }
        }
        var machine = string.Create(CultureInfo.InvariantCulture,
            $"Measured {started:yyyy-MM-dd HH:mm} UTC in {clock.Elapsed.TotalMinutes:F1} min on {Environment.ProcessorCount} cores, Linux {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, {RuntimeInformation.FrameworkDescription}, commit {layout.Commit()}{(options.Quick ? "; a --quick run" : "")}.");
        var markdown = report.ToMarkdown("dotnet run -c Release --project bench/Transport.UnixNative.Stress -- " + string.Join(' ', args), machine);
        log.WriteLine();
        log.WriteLine(markdown);
        if (options.OutputFile is { } file)
        {
            File.WriteAllText(file, markdown);
            log.WriteLine($"Written: {file}");
        }
        return failures == 0 ? 0 : 1;
    }

}

/// <summary>The security suite's command line.</summary>
internal sealed record SecurityOptions
{
    public bool Quick { get; init; }
    public int Tries { get; init; } = 50;
    public int FloodSeconds { get; init; } = 30;
    public int FloodFileLimit { get; init; } = 8192;
    public int FloodConnections { get; init; } = 60;
    public string? Root { get; init; }
    public string? OutputFile { get; init; }
    public bool Build { get; init; } = true;

    public static SecurityOptions Parse(IReadOnlyList<string> args)
    {
        var options = args.Contains("--quick") ? new SecurityOptions { Quick = true, Tries = 10, FloodSeconds = 12 } : new SecurityOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            options = arg switch
            {
                "--security" or "--quick" => options,
                "--tries" => options with { Tries = PositiveInt(arg, Value()) },
                "--flood-seconds" => options with { FloodSeconds = PositiveInt(arg, Value()) },
                "--flood-nofile" => options with { FloodFileLimit = PositiveInt(arg, Value()) },
                "--out" => options with { OutputFile = Path.GetFullPath(Value()) },
                "--no-build" => options with { Build = false },
                "--root" => options with { Root = Path.GetFullPath(Value()) },
                _ => throw new ArgumentException($"unknown option '{arg}'"),
            };
        }
        return options;
    }

    private static int PositiveInt(string option, string value)
        => int.TryParse(value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"{option} needs a positive integer, not '{value}'");
}

internal sealed record SecurityContext(string SampleDll, SecurityOptions Options, SecurityPeers Peers, SecurityReport Report, TextWriter Log, CancellationToken CancellationToken)
{
    public void Progress(string text) => Log.WriteLine($"  {DateTime.UtcNow:HH:mm:ss} {text}");
}

/// <summary>The rows: one table of findings, one of reach per address kind, and notes.</summary>
internal sealed class SecurityReport
{
    private readonly List<(string Area, string What, string Result)> _rows = [];
    private readonly List<(string Kind, string[] Cells)> _reach = [];
    private readonly List<string> _notes = [];
    private string[] _reachColumns = [];

    public void Row(string area, string what, string result) => _rows.Add((area, what, result));

    public void ReachColumns(params string[] columns) => _reachColumns = columns;

    public void Reach(string kind, params string[] cells) => _reach.Add((kind, cells));

    public void Note(string text) => _notes.Add(text);

    public string ToMarkdown(string command, string machine)
    {
        var text = new StringBuilder();
        text.AppendLine("## Security suite").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"`{command}`").AppendLine();
        text.AppendLine(machine).AppendLine();
        text.AppendLine("| area | check | result |").AppendLine("|---|---|---|");
        foreach (var (area, what, result) in _rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {area} | {what} | {result} |");
        }
        if (_reach.Count > 0)
        {
            text.AppendLine().AppendLine("Default reach (which uids got an answer to `GET /plaintext`):").AppendLine();
            text.AppendLine("| address kind | " + string.Join(" | ", _reachColumns) + " |");
            text.AppendLine("|---|" + string.Concat(_reachColumns.Select(_ => "---|")));
            foreach (var (kind, cells) in _reach)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {kind} | {string.Join(" | ", cells)} |");
            }
        }
        if (_notes.Count > 0)
        {
            text.AppendLine();
            foreach (var note in _notes)
            {
                text.AppendLine("- " + note);
            }
        }
        return text.ToString();
    }
}
