using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Transport.UnixNative.Bench.Warmup;

/// <summary>
/// Time to full speed (--warmup-curve): a fresh minimal-app server alone on core 0, h2load on core 1, load from the
/// moment the socket accepts a connection. h2load runs in 1-second slices back to back (32 fresh connections each,
/// <c>-D 1</c>, no --log-file); a window is one slice's own req/s, placed at its start time since the first listen.
/// The few milliseconds between slices (h2load starting, connecting) are not load and are reported, not hidden.
/// Tiering waits for a call-counting delay of 100 ms without new tier-0 code before promoting anything, and
/// multiplies it by 10 when the process may use one CPU only (TC_DelaySingleProcMultiplier): under constant load
/// new code keeps appearing, so on one pinned core promotion is postponed for 15–25 s. Steady state is the median of the last 5 windows; time to 90 % is the end of the first window that, with the
/// one after it, runs at ≥ 90 % of that.
/// </summary>
internal static partial class WarmupCurveBenchmark
{
    private const string Usage = """
        dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --warmup-curve [--seconds 30] [--rounds 2] [--configs a,b,…] [--no-build] [--svg PATH]
          configurations: native, native-pgo0, native-qjfl0, native-tc0, native-ccd0, native-pgo0-ccd0, native-r2r, native-r2r-pgo0,
          sockets, sockets-pgo0, sockets-r2r-pgo0, sockets-ccd0, sockets-pgo0-ccd0 (default: all; -pgo0 TieredPGO=0, -qjfl0 TC_QuickJitForLoops=0, -tc0 TieredCompilation=0,
          -ccd0 TC_CallCountingDelayMs=0, -r2r the app published with PublishReadyToRun). Needs h2load (nghttp2-client) and taskset, and 2 cores: server on core 0, h2load on core 1.
        """;

    private sealed record Config(string Name, string Transport, bool ReadyToRun, IReadOnlyDictionary<string, string> Environment);

    private static readonly Config[] AllConfigs =
    [
        new("native", "native", false, Env()),
        new("native-pgo0", "native", false, Env(("DOTNET_TieredPGO", "0"))),
        new("native-qjfl0", "native", false, Env(("DOTNET_TC_QuickJitForLoops", "0"))),
        new("native-tc0", "native", false, Env(("DOTNET_TieredCompilation", "0"))),
        new("native-ccd0", "native", false, Env(("DOTNET_TC_CallCountingDelayMs", "0"))),
        new("native-pgo0-ccd0", "native", false, Env(("DOTNET_TieredPGO", "0"), ("DOTNET_TC_CallCountingDelayMs", "0"))),
        new("native-r2r", "native", true, Env()),
        new("native-r2r-pgo0", "native", true, Env(("DOTNET_TieredPGO", "0"))),
        new("sockets", "sockets", false, Env()),
        new("sockets-pgo0", "sockets", false, Env(("DOTNET_TieredPGO", "0"))),
        new("sockets-r2r-pgo0", "sockets", true, Env(("DOTNET_TieredPGO", "0"))),
        new("sockets-ccd0", "sockets", false, Env(("DOTNET_TC_CallCountingDelayMs", "0"))),
        new("sockets-pgo0-ccd0", "sockets", false, Env(("DOTNET_TieredPGO", "0"), ("DOTNET_TC_CallCountingDelayMs", "0"))),
    ];

    private static Dictionary<string, string> Env(params (string Name, string Value)[] values) => values.ToDictionary(v => v.Name, v => v.Value);

    /// <param name="Start">When h2load was started, seconds since the first listen.</param>
    /// <param name="End">When it ended.</param>
    /// <param name="LoadSeconds">How long it says it loaded the server (the rest of End - Start is its start-up and connects).</param>
    private sealed record Window(double Start, double End, double LoadSeconds, double RequestsPerSecond);

    private sealed record Curve(Config Config, int Round, double ListenSeconds, IReadOnlyList<Window> Windows)
    {
        public double Steady => Median(Windows.TakeLast(5).Select(w => w.RequestsPerSecond));

        public double? TimeTo90
        {
            get
            {
                for (var i = 0; i + 1 < Windows.Count; i++)
                {
                    if (Windows[i].RequestsPerSecond >= 0.9 * Steady && Windows[i + 1].RequestsPerSecond >= 0.9 * Steady)
                    {
                        return Windows[i].End;
                    }
                }
                return null;
            }
        }
    }

    [GeneratedRegex(@"^finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex FinishedLine();

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Usage);
            return 0;
        }
        var seconds = 30;
        var rounds = 2;
        var build = true;
        var configs = AllConfigs.ToList();
        string? svg = null;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--warmup-curve":
                    break;
                case "--seconds" when i + 1 < args.Count:
                    seconds = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--rounds" when i + 1 < args.Count:
                    rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--no-build":
                    build = false;
                    break;
                case "--svg" when i + 1 < args.Count:
                    svg = args[++i];
                    break;
                case "--configs" when i + 1 < args.Count:
                    var names = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries);
                    configs = [.. names.Select(n => AllConfigs.FirstOrDefault(c => c.Name == n) ?? throw new ArgumentException($"unknown configuration '{n}'"))];
                    break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'\n{Usage}");
                    return 2;
            }
        }

        var root = FindRoot();
        var jitDll = Path.Combine(root, "bench", "MinimalApp", "bin", "Release", "net10.0", "MinimalApp.dll");
        var r2rDir = Path.Combine(root, "bench", "MinimalApp", "bin", "Release", "r2r");
        if (build)
        {
            await ChildProcess.RunToEndAsync("dotnet", ["build", "-c", "Release", "-v", "q", "-nologo", Path.Combine(root, "bench", "MinimalApp")]);
            if (configs.Any(c => c.ReadyToRun))
            {
                await ChildProcess.RunToEndAsync("dotnet", ["publish", "-c", "Release", "-v", "q", "-nologo", "-r", "linux-x64", "--self-contained", "false",
                    "-p:PublishReadyToRun=true", "-o", r2rDir, Path.Combine(root, "bench", "MinimalApp")]);
            }
        }

        Console.WriteLine($"# time to full speed: {seconds} s per curve, {rounds} round(s), server on core 0, h2load -c 32 on core 1");
        var curves = new List<Curve>();
        for (var round = 1; round <= rounds; round++)
        {
            // Alternate the order so no configuration always runs first (or last) on a warming machine.
            var order = round % 2 == 1 ? configs : Enumerable.Reverse(configs).ToList();
            foreach (var config in order)
            {
                var dll = config.ReadyToRun ? Path.Combine(r2rDir, "MinimalApp.dll") : jitDll;
                var curve = await MeasureAsync(config, round, dll, seconds);
                curves.Add(curve);
                Console.WriteLine($"  round {round} {config.Name,-18} listen {curve.ListenSeconds:0.00}s  t90 {Fmt(curve.TimeTo90)}  steady {curve.Steady:N0}  "
                    + string.Join(' ', curve.Windows.Select(w => (w.RequestsPerSecond / 1000).ToString("0", CultureInfo.InvariantCulture))));
            }
        }

        var report = Report(configs, curves, seconds);
        Console.WriteLine();
        Console.WriteLine(report);
        svg ??= Path.Combine(root, "docs", "time-to-full-speed.svg");
        await File.WriteAllTextAsync(svg, Svg(configs, curves, seconds));
        Console.WriteLine($"chart: {svg}");
        return 0;
    }

    private static async Task<Curve> MeasureAsync(Config config, int round, string dll, int seconds)
    {
        var path = $"/tmp/warm-{Guid.NewGuid():N}"[..18] + ".sock";
        var info = new ProcessStartInfo("taskset") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in CorePinning.On(CorePinning.ServerCore, [Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", dll, "--transport", config.Transport, "--urls", $"http://unix:{path}"]).Skip(1))
        {
            info.ArgumentList.Add(a);
        }
        foreach (var knob in new[] { "DOTNET_TieredPGO", "DOTNET_TieredCompilation", "DOTNET_TC_QuickJitForLoops", "DOTNET_TC_CallCountingDelayMs", "DOTNET_ReadyToRun", "ASPNETCORE_URLS", "DOTNET_URLS" })
        {
            info.Environment.Remove(knob);
        }
        info.Environment["DOTNET_gcServer"] = "0";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        // The minimal app ships with a call-counting delay of 0 in its runtimeconfig (what this benchmark found); a
        // configuration that does not choose one runs with the runtime's default, 100 ms (x10 on one CPU).
        info.Environment["DOTNET_TC_CallCountingDelayMs"] = "100";
        foreach (var (name, value) in config.Environment)
        {
            info.Environment[name] = value;
        }

        var clock = Stopwatch.StartNew();
        using var server = Process.Start(info) ?? throw new IOException("cannot start the server");
        _ = server.StandardOutput.ReadToEndAsync();
        _ = server.StandardError.ReadToEndAsync();
        try
        {
            // The first listen: the first moment a connect succeeds.
            while (!CanConnect(path))
            {
                if (server.HasExited || clock.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new IOException($"{config.Name}: the server did not listen on {path}");
                }
                await Task.Delay(1);
            }
            var listen = clock.Elapsed.TotalSeconds;
            var sinceListen = Stopwatch.StartNew();
            var windows = new List<Window>();
            while (sinceListen.Elapsed.TotalSeconds < seconds)
            {
                var start = sinceListen.Elapsed.TotalSeconds;
                var (load, rate) = await SliceAsync(path);
                windows.Add(new Window(start, sinceListen.Elapsed.TotalSeconds, load, rate));
            }
            return new Curve(config, round, listen, windows);
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
            // A killed server leaves its socket and our transport's lock file beside it.
            File.Delete(path);
            File.Delete(path + ".lock");
        }
    }

    private static bool CanConnect(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>One second of load: h2load on core 1, its own req/s.</summary>
    private static async Task<(double LoadSeconds, double RequestsPerSecond)> SliceAsync(string path)
    {
        var command = CorePinning.On(CorePinning.LoadCore, ["h2load", "--h1", "-t", "1", "-B", $"unix:{path}", "-c", "32", "-D", "1", "http://localhost/plaintext"]);
        var output = await ChildProcess.RunToEndAsync(command[0], command.Skip(1));
        var match = FinishedLine().Match(output);
        if (!match.Success)
        {
            throw new IOException($"h2load said:\n{output}");
        }
        var load = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) / (match.Groups[2].Value switch { "us" => 1e6, "ms" => 1e3, _ => 1 });
        return (load, double.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture));
    }

    private static string Report(IReadOnlyList<Config> configs, IReadOnlyList<Curve> curves, int seconds)
    {
        var text = new StringBuilder();
        text.AppendLine("| configuration | time to 90 % (s), median (min–max) | steady req/s, median (min–max) | first 5 s req/s | listen after start (s) |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var config in configs)
        {
            var mine = curves.Where(c => c.Config == config).ToList();
            var t90 = mine.Select(c => c.TimeTo90 ?? double.PositiveInfinity).ToList();
            var steady = mine.Select(c => c.Steady).ToList();
            var first5 = mine.Select(c => Median(c.Windows.Where(w => w.Start < 5).Select(w => w.RequestsPerSecond))).ToList();
            text.AppendLine(CultureInfo.InvariantCulture, $"| {config.Name} | {Median(t90):0.0} ({t90.Min():0.0}–{t90.Max():0.0}) | {Median(steady):N0} ({steady.Min():N0}–{steady.Max():N0}) | {Median(first5):N0} | {Median(mine.Select(c => c.ListenSeconds)):0.00} |");
        }
        text.AppendLine();
        text.AppendLine("k req/s per 1-second window since the first listen (median of the rounds):");
        text.AppendLine();
        text.AppendLine("| second | " + string.Join(" | ", configs.Select(c => c.Name)) + " |");
        text.AppendLine("|---:|" + string.Concat(configs.Select(_ => "---:|")));
        var windows = configs.Select(c => MedianCurve(curves.Where(k => k.Config == c).ToList())).ToList();
        for (var s = 0; s < windows.Max(w => w.Count); s++)
        {
            var cells = string.Join(" | ", windows.Select(w => s < w.Count ? (w[s] / 1000).ToString("0", CultureInfo.InvariantCulture) : ""));
            text.AppendLine(CultureInfo.InvariantCulture, $"| {s} | {cells} |");
        }
        var gaps = curves.SelectMany(c => c.Windows.Select(w => w.End - w.Start - w.LoadSeconds)).DefaultIfEmpty(0).ToList();
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Time per slice outside h2load's measured load (its start-up, 32 connects, exit): median {Median(gaps) * 1000:0} ms, max {gaps.Max() * 1000:0} ms.");
        return text.ToString();
    }

    /// <summary>The median across rounds of each window index.</summary>
    private static List<double> MedianCurve(IReadOnlyList<Curve> curves)
    {
        var count = curves.Min(c => c.Windows.Count);
        return [.. Enumerable.Range(0, count).Select(i => Median(curves.Select(c => c.Windows[i].RequestsPerSecond)))];
    }

    /// <summary>A line chart: x = seconds since the first listen, y = k req/s, one line per configuration (median of the rounds).</summary>
    private static string Svg(IReadOnlyList<Config> configs, IReadOnlyList<Curve> curves, int seconds)
    {
        string[] colors = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#d62728", "#ff7f0e", "#7f7f7f"];
        const int left = 60, top = 30, width = 640, height = 320, legend = 190;
        var lines = configs.Select(c => MedianCurve(curves.Where(k => k.Config == c).ToList())).ToList();
        var max = Math.Ceiling(lines.SelectMany(l => l).DefaultIfEmpty(1).Max() / 20_000) * 20;
        double X(double s) => left + s / seconds * width;
        double Y(double k) => top + height - k / max * height;
        var svg = new StringBuilder();
        svg.AppendLine(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{left + width + legend}\" height=\"{top + height + 50}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"18\" font-size=\"14\">req/s in 1-second windows after the first listen (server on 1 core, h1, 32 connections)</text>");
        for (var k = 0.0; k <= max; k += 20)
        {
            svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{left + width}\" y1=\"{Y(k):0.#}\" y2=\"{Y(k):0.#}\" stroke=\"#ddd\"/><text x=\"{left - 6}\" y=\"{Y(k) + 4:0.#}\" text-anchor=\"end\">{k}k</text>");
        }
        for (var s = 0; s <= seconds; s += 5)
        {
            svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{X(s):0.#}\" x2=\"{X(s):0.#}\" y1=\"{top}\" y2=\"{top + height}\" stroke=\"#eee\"/><text x=\"{X(s):0.#}\" y=\"{top + height + 16}\" text-anchor=\"middle\">{s} s</text>");
        }
        for (var i = 0; i < configs.Count; i++)
        {
            var color = colors[i % colors.Length];
            var dash = configs[i].Transport == "sockets" ? " stroke-dasharray=\"6 3\"" : "";
            var points = string.Join(' ', lines[i].Select((r, s) => FormattableString.Invariant($"{X(s + 0.5):0.#},{Y(r / 1000):0.#}")));
            svg.AppendLine(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{points}\"/>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{left + width + 15}\" x2=\"{left + width + 40}\" y1=\"{top + 10 + i * 18}\" y2=\"{top + 10 + i * 18}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/><text x=\"{left + width + 45}\" y=\"{top + 14 + i * 18}\">{configs[i].Name}</text>");
        }
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left + width / 2}\" y=\"{top + height + 36}\" text-anchor=\"middle\">seconds since the first listen (median of the rounds; dashed: Kestrel Sockets)</text>");
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static double Median(IEnumerable<double> values) => Statistics.Median(values) ?? 0;

    private static string Fmt(double? seconds) => seconds is { } s ? s.ToString("0.0", CultureInfo.InvariantCulture) + "s" : "never";

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Transport.sln")))
            {
                return dir.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }
}
