using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Transport.UnixNative.Bench.Sidecar;

/// <summary>
/// The end-to-end sidecar call (--sidecar): an HttpClient process (<see cref="SidecarClient"/>) calling the minimal app's
/// /plaintext with N concurrent callers, both processes' CPU read from /proc around a fixed-time run after a warm-up
/// that lasts until the rate is steady and neither process's tiered compiler is busy. Variants: ours (our handler →
/// our transport, unix socket), tcp (plain SocketsHttpHandler → Kestrel Sockets on TCP loopback), networkstream
/// (a hand-written ConnectCallback returning a NetworkStream → our transport) and sockets-unix (our handler → Kestrel
/// Sockets on the unix socket). Placements: pinned (server on core 0, client on core 1) and shared (both on both).
/// </summary>
internal static class SidecarBenchmark
{
    private const string Usage = """
        dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --sidecar [--rounds 3] [--seconds 5] [--callers 32]
            [--variants ours,ours-stream,tcp,networkstream,sockets-unix (also: ours-inline, tcp-inline)] [--placements pinned,shared] [--no-build] [--out FILE]
          Needs taskset and 2 cores. Each measurement (about 13 s; the default run, 30 of them, about 7 min): a fresh server and client, warm-up (≥ 3 s, until two 0.5 s steps
          differ by < 5 % and neither tiered compiler ran, at most 30 s), SECONDS with CALLERS callers, then 2 s with 1 caller.
        """;

    // ours-stream: our handler with UnsafePreferInlineCompletions (its own connection stream and epoll thread).
    private static readonly string[] DefaultVariants = ["ours", "ours-stream", "tcp", "networkstream", "sockets-unix"];

    // Experiments, on request: the same with System.Net.Sockets completing socket operations on its epoll thread
    // (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 in the client process) instead of queueing them to the thread pool.
    private static readonly string[] AllVariants = [.. DefaultVariants, "ours-inline", "tcp-inline"];
    private static readonly string[] AllPlacements = ["pinned", "shared"];
    private const string TieringThread = ".NET Tiered Com";
    private const double WarmupStepSeconds = 0.5;
    private const double MinWarmupSeconds = 3;
    private const double MaxWarmupSeconds = 30;
    private const double SteadyChange = 0.05;
    private const double LatencySeconds = 2;

    /// <param name="Rate">req/s with all callers.</param>
    /// <param name="P50">Client-side latency with all callers, µs.</param>
    /// <param name="OneRate">req/s with one caller.</param>
    /// <param name="ClientCpu">Client CPU-s per 100k requests.</param>
    private sealed record Result(string Variant, string Placement, int Round, double Warmup, double Rate, double P50, double P99,
        double OneRate, double OneP50, double OneP99, double ClientCpu, double ServerCpu, long Errors)
    {
        public double TotalCpu => ClientCpu + ServerCpu;
    }

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Usage);
            return 0;
        }
        var rounds = 3;
        var seconds = 5.0;
        var callers = 32;
        var build = true;
        string? outFile = null;
        var variants = DefaultVariants.ToList();
        var placements = AllPlacements.ToList();
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--rounds" when i + 1 < args.Count:
                    rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--seconds" when i + 1 < args.Count:
                    seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--callers" when i + 1 < args.Count:
                    callers = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--variants" when i + 1 < args.Count:
                    variants = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries)];
                    break;
                case "--placements" when i + 1 < args.Count:
                    placements = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries)];
                    break;
                case "--no-build":
                    build = false;
                    break;
                case "--out" when i + 1 < args.Count:
                    outFile = args[++i];
                    break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'\n{Usage}");
                    return 2;
            }
        }
        if (variants.FirstOrDefault(v => !AllVariants.Contains(v)) is { } badVariant)
        {
            Console.Error.WriteLine($"--variants: unknown variant '{badVariant}' (known: {string.Join(", ", AllVariants)})");
            return 2;
        }
        if (placements.FirstOrDefault(p => !AllPlacements.Contains(p)) is { } badPlacement)
        {
            Console.Error.WriteLine($"--placements: unknown placement '{badPlacement}' (known: pinned, shared)");
            return 2;
        }
        if (Environment.ProcessorCount < 2)
        {
            Console.Error.WriteLine("--sidecar needs 2 cores (server on core 0, client on core 1).");
            return 2;
        }

        var root = FindRoot();
        if (build)
        {
            await ChildProcess.RunToEndAsync("dotnet", ["build", "-c", "Release", "-v", "q", "-nologo", Path.Combine(root, "bench", "MinimalApp")]);
        }
        var appDll = Path.Combine(root, "bench", "MinimalApp", "bin", "Release", "net10.0", "MinimalApp.dll");
        var benchDll = typeof(SidecarBenchmark).Assembly.Location;

        Console.WriteLine($"# end-to-end sidecar call: {rounds} round(s), {seconds:0.#} s with {callers} callers + {LatencySeconds:0} s with 1 caller per measurement");
        var results = new List<Result>();
        for (var round = 1; round <= rounds; round++)
        {
            // Rotate the variants each round (and flip the placements) so none always runs first on a warming machine.
            var order = variants.Skip((round - 1) % variants.Count).Concat(variants.Take((round - 1) % variants.Count)).ToList();
            var placementOrder = round % 2 == 1 ? placements : Enumerable.Reverse(placements).ToList();
            foreach (var placement in placementOrder)
            {
                foreach (var variant in order)
                {
                    var result = await MeasureAsync(variant, placement, round, appDll, benchDll, seconds, callers);
                    results.Add(result);
                    Console.WriteLine(FormattableString.Invariant(
                        $"  round {round} {placement,-6} {variant,-13} warm-up {result.Warmup,4:0.0}s  {result.Rate,8:N0} req/s  p50 {result.P50 / 1000:0.00} p99 {result.P99 / 1000:0.00} ms  ")
                        + FormattableString.Invariant($"1 caller {result.OneRate:N0} req/s p50 {result.OneP50:0} µs  CPU-s/100k client {result.ClientCpu:0.00} server {result.ServerCpu:0.00}")
                        + (result.Errors > 0 ? $"  ERRORS {result.Errors}" : ""));
                }
            }
        }

        var report = new StringBuilder();
        foreach (var placement in placements)
        {
            report.AppendLine(Table(placement, variants, results.Where(r => r.Placement == placement).ToList(), callers));
        }
        Console.WriteLine();
        Console.WriteLine(report);
        if (outFile is not null)
        {
            await File.WriteAllTextAsync(outFile, report.ToString());
        }
        return results.Any(r => r.Errors > 0) ? 1 : 0;
    }

    private static async Task<Result> MeasureAsync(string variant, string placement, int round, string appDll, string benchDll, double seconds, int callers)
    {
        var (serverCores, clientCores) = placement == "pinned" ? ("0", "1") : ("0,1", "0,1");
        var inline = variant.EndsWith("-inline", StringComparison.Ordinal);
        variant = inline ? variant[..^"-inline".Length] : variant;
        var transport = variant is "ours" or "ours-stream" or "networkstream" ? "native" : "sockets";
        var path = variant == "tcp" ? null : $"/tmp/side-{Guid.NewGuid():N}"[..18] + ".sock";
        var port = variant == "tcp" ? FreePort() : 0;
        var urls = path is not null ? $"http://unix:{path}" : $"http://127.0.0.1:{port}";

        using var server = Start(serverCores, [appDll, "--transport", transport, "--urls", urls], stdin: false);
        Process? client = null;
        try
        {
            await WaitListeningAsync(server, path, port);
            client = Start(clientCores, [benchDll, "--sidecar-client", variant, path ?? $"127.0.0.1:{port}"], stdin: true, inlineCompletions: inline);
            var ready = await client.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            if (ready != "ready")
            {
                throw new IOException($"{variant}: the client said '{ready}': {await ReadErrors(client)}");
            }

            // Warm-up: steady rate and idle tiered compilers in both processes.
            var clock = Stopwatch.StartNew();
            double? previous = null;
            var tiering = TieringSeconds(server, client);
            while (true)
            {
                var step = await StepAsync(client, WarmupStepSeconds, callers);
                var tieringNow = TieringSeconds(server, client);
                var compiled = tieringNow.Server - tiering.Server >= 0.005 || tieringNow.Client - tiering.Client >= 0.005; // as the side-by-side run: < 5 ms of tiering per step is idle
                tiering = tieringNow;
                var steady = previous is { } p && p > 0 && Math.Abs(step.Rate - p) / p < SteadyChange && !compiled;
                previous = step.Rate;
                if (clock.Elapsed.TotalSeconds >= MaxWarmupSeconds || (clock.Elapsed.TotalSeconds >= MinWarmupSeconds && steady))
                {
                    break;
                }
            }
            var warmup = clock.Elapsed.TotalSeconds;

            var serverBefore = ProcStat.Read(server.Id).CpuSeconds;
            var clientBefore = ProcStat.Read(client.Id).CpuSeconds;
            var run = await StepAsync(client, seconds, callers);
            var serverCpu = ProcStat.Read(server.Id).CpuSeconds - serverBefore;
            var clientCpu = ProcStat.Read(client.Id).CpuSeconds - clientBefore;
            var one = await StepAsync(client, LatencySeconds, 1);

            await client.StandardInput.WriteLineAsync("quit");
            await client.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            double Per100k(double cpu) => run.Count > 0 ? cpu / run.Count * 100_000 : double.NaN;
            return new Result(inline ? variant + "-inline" : variant, placement, round, warmup, run.Rate, run.P50, run.P99, one.Rate, one.P50, one.P99,
                Per100k(clientCpu), Per100k(serverCpu), run.Errors + one.Errors);
        }
        finally
        {
            Stop(client);
            Stop(server);
            if (path is not null)
            {
                // A killed server leaves its socket and our transport's lock file beside it.
                File.Delete(path);
                File.Delete(path + ".lock");
            }
        }
    }

    private sealed record Step(long Count, double Rate, double P50, double P99, long Errors);

    private static async Task<Step> StepAsync(Process client, double seconds, int callers)
    {
        await client.StandardInput.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"run {seconds} {callers}"));
        await client.StandardInput.FlushAsync();
        var line = await client.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(seconds + 30));
        var parts = line?.Split(' ');
        if (parts is not ["done", _, _, _, _, _])
        {
            throw new IOException($"the sidecar client said '{line}': {await ReadErrors(client)}");
        }
        double D(int i) => double.Parse(parts[i], CultureInfo.InvariantCulture);
        var count = long.Parse(parts[1], CultureInfo.InvariantCulture);
        return new Step(count, count / D(2), D(3), D(4), long.Parse(parts[5], CultureInfo.InvariantCulture));
    }

    private static (double Server, double Client) TieringSeconds(Process server, Process client)
        => (ProcStat.ReadThreadCpuSeconds(server.Id, TieringThread) ?? 0, ProcStat.ReadThreadCpuSeconds(client.Id, TieringThread) ?? 0);

    private static Process Start(string cores, IEnumerable<string> arguments, bool stdin, bool inlineCompletions = false)
    {
        var info = new ProcessStartInfo("taskset")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin,
        };
        foreach (var a in new[] { "-c", cores, Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet" }.Concat(arguments))
        {
            info.ArgumentList.Add(a);
        }
        foreach (var knob in new[] { "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "DOTNET_TieredPGO", "DOTNET_TieredCompilation", "DOTNET_TC_QuickJitForLoops", "DOTNET_ReadyToRun", "ASPNETCORE_URLS", "DOTNET_URLS" })
        {
            info.Environment.Remove(knob);
        }
        info.Environment["DOTNET_gcServer"] = "0";
        // What the minimal app ships in its runtimeconfig (docs/benchmarks.md, time to full speed); the client gets the
        // same so that a pinned client tiers up in seconds rather than a minute.
        info.Environment["DOTNET_TC_CallCountingDelayMs"] = "0";
        if (inlineCompletions)
        {
            info.Environment["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1";
        }
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(info) ?? throw new IOException("cannot start taskset");
        if (!stdin)
        {
            _ = process.StandardOutput.ReadToEndAsync();
        }
        return process;
    }

    private static async Task WaitListeningAsync(Process server, string? path, int port)
    {
        var clock = Stopwatch.StartNew();
        while (!CanConnect(path, port))
        {
            if (server.HasExited || clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new IOException($"the server did not listen on {path ?? port.ToString(CultureInfo.InvariantCulture)}: {await ReadErrors(server)}");
            }
            await Task.Delay(5);
        }
    }

    private static bool CanConnect(string? path, int port)
    {
        if (path is not null && !File.Exists(path))
        {
            return false;
        }
        try
        {
            using var socket = path is not null
                ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(path is not null ? new UnixDomainSocketEndPoint(path) : new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    private static async Task<string> ReadErrors(Process process)
    {
        if (!process.HasExited)
        {
            return "(still running)";
        }
        return await process.StandardError.ReadToEndAsync();
    }

    private static void Stop(Process? process)
    {
        if (process is null)
        {
            return;
        }
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.Dispose();
    }

    /// <summary>One table: per variant the medians over rounds with min–max, and ratios to tcp taken round by round.</summary>
    private static string Table(string placement, IReadOnlyList<string> variants, IReadOnlyList<Result> results, int callers)
    {
        var text = new StringBuilder();
        var where = placement == "pinned" ? "server on core 0, client on core 1" : "server and client both on cores 0–1";
        text.AppendLine(CultureInfo.InvariantCulture, $"#### {placement}: {where}, {callers} callers (latency: 1 caller), medians of {results.Select(r => r.Round).Distinct().Count()} rounds (min–max)");
        text.AppendLine();
        text.AppendLine("| variant | req/s | ÷ tcp | p50 / p99 ms | 1 caller: req/s, p50 / p99 µs | client CPU-s/100k | server CPU-s/100k | total CPU-s/100k | total ÷ tcp |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var variant in variants)
        {
            var mine = results.Where(r => r.Variant == variant).ToList();
            if (mine.Count == 0)
            {
                continue;
            }
            var rateRatio = Ratios(results, variant, r => r.Rate);
            var cpuRatio = Ratios(results, variant, r => r.TotalCpu);
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {variant} | {Spread(mine.Select(r => r.Rate), "N0")} | {Spread(rateRatio, "0.00")} | {Med(mine.Select(r => r.P50 / 1000)):0.00} / {Med(mine.Select(r => r.P99 / 1000)):0.00} "
                + $"| {Med(mine.Select(r => r.OneRate)):N0}, {Med(mine.Select(r => r.OneP50)):0} / {Med(mine.Select(r => r.OneP99)):0} "
                + $"| {Spread(mine.Select(r => r.ClientCpu), "0.00")} | {Spread(mine.Select(r => r.ServerCpu), "0.00")} | {Spread(mine.Select(r => r.TotalCpu), "0.00")} | {Spread(cpuRatio, "0.00")} |");
        }
        return text.ToString();
    }

    /// <summary>variant ÷ tcp in each round that measured both.</summary>
    private static List<double> Ratios(IReadOnlyList<Result> results, string variant, Func<Result, double> value)
        => [.. results.Where(r => r.Variant == variant)
            .Join(results.Where(r => r.Variant == "tcp"), r => r.Round, t => t.Round, (r, t) => value(r) / value(t))];

    private static double Med(IEnumerable<double> values) => Statistics.Median(values) ?? double.NaN;

    private static string Spread(IEnumerable<double> values, string format)
    {
        var list = values.ToList();
        if (list.Count == 0)
        {
            return "–";
        }
        var median = Med(list).ToString(format, CultureInfo.InvariantCulture);
        return list.Count == 1 ? median : $"{median} ({list.Min().ToString(format, CultureInfo.InvariantCulture)}–{list.Max().ToString(format, CultureInfo.InvariantCulture)})";
    }

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
