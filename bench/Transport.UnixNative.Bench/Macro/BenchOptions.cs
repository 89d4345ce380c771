using System.Globalization;

namespace Transport.UnixNative.Bench.Macro;

/// <summary>The side-by-side run's command line.</summary>
internal sealed record BenchOptions
{
    public bool Quick { get; init; }
    public int Rounds { get; init; } = 3;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);
    public IReadOnlyList<string>? ScenarioNames { get; init; }
    public IReadOnlyList<string> TransportIds { get; init; } = TransportVariant.All.Select(t => t.Id).ToArray();
    public int IdleConnections { get; init; } = 10_000;
    public string? Root { get; init; }
    public string? OutputDirectory { get; init; }
    public bool Build { get; init; } = true;
    public string H2Load { get; init; } = "h2load";
    public TimeSpan MaxQuietWait { get; init; } = TimeSpan.FromSeconds(15);
    public int Retries { get; init; } = 2;

    /// <summary>Above this share of the CPUs taken by other processes a measurement counts as disturbed.</summary>
    public double NoisyShare { get; init; } = 0.10;

    public const string Usage = """
        Side-by-side load test of the sample (samples/WebOverUds) on each transport, driven by h2load
        and by our own drivers (connection churn, idle connections, seqpacket).

          dotnet run -c Release --project bench/Transport.UnixNative.Bench -- [options]
          dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --micro [filter] [BenchmarkDotNet options]

        Options:
          --quick               1 round of 1 s per measurement (about 2 minutes in all)
          --rounds N            rounds; each value reported is the median over rounds (default 3; --quick: 1)
          --duration S          seconds per measured run (default 3; --quick: 1)
          --warmup S            seconds of load before each measurement, not measured (default 1; --quick: 0.5)
          --scenario a,b        only these scenarios: h1-c32 h1-c256 h1-pipelined h2c-c32 get-1mib churn idle seqpacket
          --transports a,b      only these: native, sockets (Kestrel's, same unix socket), tcp (Kestrel's, loopback),
                                seqpacket (ours on SOCK_SEQPACKET; seqpacket scenario only). Default: all.
          --idle-connections N  connections held open in the idle scenario (default 10000)
          --no-build            do not build the sample first
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
            ? new BenchOptions { Quick = true, Rounds = 1, Duration = TimeSpan.FromSeconds(1), Warmup = TimeSpan.FromSeconds(0.5), MaxQuietWait = TimeSpan.FromSeconds(3), Retries = 0 }
            : new BenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            options = arg switch
            {
                "--quick" => options,
                "--rounds" => options with { Rounds = PositiveInt(arg, Value()) },
                "--duration" => options with { Duration = Seconds(arg, Value()) },
                "--warmup" => options with { Warmup = Seconds(arg, Value(), allowZero: true) },
                "--scenario" or "--scenarios" => options with { ScenarioNames = List(Value()) },
                "--transports" or "--transport" => options with { TransportIds = Transports(Value()) },
                "--idle-connections" => options with { IdleConnections = PositiveInt(arg, Value()) },
                "--no-build" => options with { Build = false },
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

    /// <summary>The scenarios to run, in report order; unknown names are an error.</summary>
    public IReadOnlyList<Scenario> SelectScenarios()
    {
        var all = Scenarios.All(IdleConnections);
        if (ScenarioNames is null)
        {
            return all;
        }
        var unknown = ScenarioNames.Where(n => all.All(s => s.Name != n)).ToArray();
        if (unknown.Length > 0)
        {
            throw new ArgumentException($"unknown scenario '{string.Join("', '", unknown)}'; known: {string.Join(", ", all.Select(s => s.Name))}");
        }
        return all.Where(s => ScenarioNames.Contains(s.Name)).ToArray();
    }

    public IReadOnlyList<TransportVariant> VariantsOf(Scenario scenario) => scenario.Variants.Where(v => TransportIds.Contains(v.Id)).ToArray();

    private static List<string> List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

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
