using System.Globalization;

namespace Transport.UnixNative.Bench.Macro;

/// <summary>The side-by-side run's command line.</summary>
internal sealed record BenchOptions
{
    public bool Quick { get; init; }
    public int Rounds { get; init; } = 3;

    /// <summary>Rounds of the contention table's scenarios outside its headline rows (the sample, churn, idle, seqpacket).</summary>
    public int OtherRounds { get; init; } = 2;

    /// <summary>Per core (server on core 0, load on core 1), shared (both on every core), or both in that order.</summary>
    public IReadOnlyList<Placement> Placements { get; init; } = [Placement.Pinned, Placement.Shared];

    /// <summary>The longest warm-up on one core: tiering there is slower than on two (about 5 s to full speed with CallCountingDelayMs=0, 15–25 s without).</summary>
    public TimeSpan PinnedMaxWarmup { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan LatencyDuration { get; init; } = TimeSpan.FromSeconds(1);
    public IReadOnlyList<string> AppIds { get; init; } = BenchApp.All.Select(a => a.Id).ToArray();
    public IReadOnlyList<string>? ScenarioNames { get; init; }
    public IReadOnlyList<string> TransportIds { get; init; } = TransportVariant.All.Select(t => t.Id).ToArray();
    public int IdleConnections { get; init; } = 10_000;
    public string? Root { get; init; }
    public string? OutputDirectory { get; init; }
    public bool Build { get; init; } = true;

    /// <summary>Print what would be measured and how long it should take, and stop.</summary>
    public bool PlanOnly { get; init; }

    /// <summary>Also write the run into docs/benchmarks.md (its "Latest full run" section) and docs/bench-latest.svg.</summary>
    public bool Publish { get; init; }
    public string H2Load { get; init; } = "h2load";
    public TimeSpan MaxQuietWait { get; init; } = TimeSpan.FromSeconds(15);
    public int Retries { get; init; } = 2;

    /// <summary>Above this share of the CPUs taken by other processes a measurement counts as disturbed.</summary>
    public double NoisyShare { get; init; } = 0.10;

    public const string Usage = """
        Side-by-side load test of our transport, Kestrel's Sockets transport (unix and TCP) and nginx,
        serving the same-work minimal app (bench/MinimalApp) and the sample (samples/WebOverUds),
        driven by h2load and by our own drivers (connection churn, idle connections, seqpacket).
        Within a round the transports take turns in an order rotated every round.
        Two placements: per core (the headline: server alone on core 0 under taskset, h2load on core 1;
        the h2load loads only) and shared (contention: server and load on both cores; every scenario).

          dotnet run -c Release --project bench/Transport.UnixNative.Bench -- [options]
          dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --micro [filter] [BenchmarkDotNet options]

        Options:
          --quick               1 round of 1 s per measurement (about 6 minutes in all, both placements)
          --placement P         pinned (per core: server on core 0, h2load on core 1), shared (both on all cores),
                                or both (default: both, per core first; pinned is skipped with a note on < 2 cores)
          --rounds N            rounds of the per-core table and of the contention table's headline rows (minimal
                                app, h2load loads); each value reported is the median over rounds, with min–max
                                (default 3; --quick: 1)
          --other-rounds N      rounds of the contention table's other scenarios (sample, churn, idle, seqpacket)
                                (default 2, at most --rounds)
          --duration S          seconds per measured throughput run (default 2; --quick: 1)
          --latency-duration S  seconds of the separate h2load latency run (default 1; --quick: 0.5)
          --warmup S            seconds of load at least before each measurement, not measured; h2load loads go on
                                until the rate is steady and a .NET server's tiered JIT is idle, at most 10 times as
                                long, or --pinned-max-warmup per core (default 1; --quick: 0.5)
          --pinned-max-warmup S the longest warm-up per core, where tiering takes longer (default 30; --quick: 15)
          --scenario a,b        only these scenarios: h1-c32 h1-c256 h1-pipelined h2c-c32 get-1mib h1-inline churn idle
                                seqpacket seqpacket-1mib
          --apps a,b            only these apps: minimal (bench/MinimalApp), sample (samples/WebOverUds). Default: both.
          --transports a,b      only these: native, sockets (Kestrel's, same unix socket), tcp (Kestrel's, loopback),
                                nginx (one process, same unix socket), seqpacket (ours on SOCK_SEQPACKET; seqpacket
                                scenarios only). Default: all.
          --idle-connections N  connections held open in the idle scenario (default 10000)
          --no-build            do not build the apps first
          --plan                print the measurements and the estimated duration, and stop
          --publish             also put this run's table into docs/benchmarks.md ("Latest full run") and its
                                chart into docs/bench-latest.svg
          --root DIR            the repository (default: found upwards from the working directory)
          --out DIR             where results go (default: <root>/bench/results)
          --h2load PATH         the h2load executable (default: h2load on PATH)
          --max-quiet-wait S    before each measurement wait up to S seconds for other processes to leave
                                the CPUs idle (< 25% busy) (default 15; --quick: 3; 0 = never wait)
          --retries N           measure again, up to N times, when other processes took > 10% of the CPUs
                                during the window; the least disturbed attempt counts (default 2; --quick: 0)
        """;

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        // --quick sets the defaults first so explicit options after or before it still win.
        var options = args.Contains("--quick")
            ? new BenchOptions { Quick = true, Rounds = 1, Duration = TimeSpan.FromSeconds(1), Warmup = TimeSpan.FromSeconds(0.5), LatencyDuration = TimeSpan.FromSeconds(0.5), MaxQuietWait = TimeSpan.FromSeconds(3), Retries = 0, PinnedMaxWarmup = TimeSpan.FromSeconds(15) }
            : new BenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            options = arg switch
            {
                "--quick" => options,
                "--rounds" => options with { Rounds = PositiveInt(arg, Value()) },
                "--other-rounds" => options with { OtherRounds = PositiveInt(arg, Value()) },
                "--duration" => options with { Duration = Seconds(arg, Value()) },
                "--warmup" => options with { Warmup = Seconds(arg, Value(), allowZero: true) },
                "--pinned-max-warmup" => options with { PinnedMaxWarmup = Seconds(arg, Value()) },
                "--placement" or "--placements" => options with { Placements = ParsePlacement(Value()) },
                "--latency-duration" => options with { LatencyDuration = Seconds(arg, Value()) },
                "--apps" or "--app" => options with { AppIds = Apps(Value()) },
                "--scenario" or "--scenarios" => options with { ScenarioNames = List(Value()) },
                "--transports" or "--transport" => options with { TransportIds = Transports(Value()) },
                "--idle-connections" => options with { IdleConnections = PositiveInt(arg, Value()) },
                "--no-build" => options with { Build = false },
                "--plan" => options with { PlanOnly = true },
                "--publish" => options with { Publish = true },
                "--root" => options with { Root = Path.GetFullPath(Value()) },
                "--out" => options with { OutputDirectory = Path.GetFullPath(Value()) },
                "--h2load" => options with { H2Load = Value() },
                "--max-quiet-wait" => options with { MaxQuietWait = Seconds(arg, Value(), allowZero: true) },
                "--retries" => options with { Retries = NonNegativeInt(arg, Value()) },
                _ => throw new ArgumentException($"unknown option '{arg}'"),
            };
        }
        return options;
    }

    /// <summary>The scenarios to run, in report order (per core first, then shared); unknown names are an error.</summary>
    public IReadOnlyList<Scenario> SelectScenarios()
    {
        IEnumerable<Scenario> all = [
            .. Placements.Contains(Placement.Pinned) ? Scenarios.PerCore(IdleConnections) : [],
            .. Placements.Contains(Placement.Shared) ? Scenarios.All(IdleConnections) : []];
        all = all.Where(s => AppIds.Contains(s.Server.Id));
        if (ScenarioNames is null)
        {
            return all.ToArray();
        }
        var names = Scenarios.All(IdleConnections).Select(s => s.Name).Distinct().ToArray();
        var unknown = ScenarioNames.Where(n => !names.Contains(n)).ToArray();
        if (unknown.Length > 0)
        {
            throw new ArgumentException($"unknown scenario '{string.Join("', '", unknown)}'; known: {string.Join(", ", names)}");
        }
        return all.Where(s => ScenarioNames.Contains(s.Name)).ToArray();
    }

    /// <summary>How many rounds measure this scenario.</summary>
    public int RoundsOf(Scenario scenario) => scenario.Headline ? Rounds : Math.Min(Rounds, OtherRounds);

    /// <summary>The longest warm-up of an h2load load: longer on one core, where tiering is slower.</summary>
    public TimeSpan MaxWarmupOf(Scenario scenario) => scenario.Pinned ? Max(PinnedMaxWarmup, Warmup) : Warmup * 10;

    /// <summary>
    /// A rough length of the run, to print before it starts: per measurement a server start, the warm-up as it
    /// usually ends on a quiet 2-core machine (.NET: about 6 s on one core, 3 s on two; nginx at once), the runs.
    /// </summary>
    public TimeSpan Estimate(IReadOnlyList<Scenario> scenarios)
    {
        var seconds = 0.0;
        foreach (var scenario in scenarios)
        {
            foreach (var variant in VariantsOf(scenario))
            {
                var warmup = variant.IsNginx ? Warmup.TotalSeconds + 0.5
                    : Math.Min(MaxWarmupOf(scenario).TotalSeconds, Math.Max(Warmup.TotalSeconds, scenario.Pinned ? 6 : 3));
                var load = scenario.Kind == ScenarioKind.H2Load ? Duration.TotalSeconds + LatencyDuration.TotalSeconds : Duration.TotalSeconds;
                seconds += RoundsOf(scenario) * (1.5 + warmup + load);
            }
        }
        return TimeSpan.FromSeconds(seconds);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static List<Placement> ParsePlacement(string value) => value switch
    {
        "pinned" or "per-core" => [Placement.Pinned],
        "shared" => [Placement.Shared],
        "both" => [Placement.Pinned, Placement.Shared],
        _ => throw new ArgumentException($"--placement takes pinned, shared or both, not '{value}'"),
    };

    public IReadOnlyList<TransportVariant> VariantsOf(Scenario scenario) => scenario.Variants.Where(v => TransportIds.Contains(v.Id)).ToArray();

    private static List<string> List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private static List<string> Apps(string value)
    {
        var ids = List(value);
        var unknown = ids.Where(id => BenchApp.All.All(a => a.Id != id)).ToArray();
        return unknown.Length == 0
            ? ids
            : throw new ArgumentException($"unknown app '{string.Join("', '", unknown)}'; known: {string.Join(", ", BenchApp.All.Select(a => a.Id))}");
    }

    private static List<string> Transports(string value)
    {
        var ids = List(value);
        var unknown = ids.Where(id => TransportVariant.All.All(t => t.Id != id)).ToArray();
        return unknown.Length == 0
            ? ids
            : throw new ArgumentException($"unknown transport '{string.Join("', '", unknown)}'; known: {string.Join(", ", TransportVariant.All.Select(t => t.Id))}");
    }

    private static int PositiveInt(string option, string value)
        => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"{option} needs a positive integer, not '{value}'");

    private static int NonNegativeInt(string option, string value)
        => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"{option} needs a whole number, not '{value}'");

    private static TimeSpan Seconds(string option, string value, bool allowZero = false)
        => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && (s > 0 || (allowZero && s == 0))
            ? TimeSpan.FromSeconds(s)
            : throw new ArgumentException($"{option} needs a number of seconds, not '{value}'");
}
