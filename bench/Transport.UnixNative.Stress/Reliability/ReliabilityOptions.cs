using System.Globalization;

namespace Transport.UnixNative.Stress.Reliability;

/// <summary>The reliability suite's command line.</summary>
internal sealed record ReliabilityOptions
{
    public bool Quick { get; init; }
    public int HeldConnections { get; init; } = 50_000;
    public int IdleConnections { get; init; } = 5_000;
    public int IdleRounds { get; init; } = 3;
    public int ChurnRequests { get; init; } = 1_000_000;
    public int Peers { get; init; } = 1_000;
    public int StormClients { get; init; } = 800;
    public int StormFileLimit { get; init; } = 512;
    public int StormEpisodes { get; init; } = 3;
    public IReadOnlyList<string> Checks { get; init; } = All;
    public string? Root { get; init; }
    public string? OutputFile { get; init; }
    public bool Build { get; init; } = true;

    public static readonly IReadOnlyList<string> All = ["held", "churn", "hostile", "slow", "emfile", "restart"];

    public const string Usage = """
        Reliability suite: hostile, slow and unlucky peers and resource exhaustion against the sample
        (samples/WebOverUds), ours and Kestrel's Sockets transport on the same unix socket, same run.

          dotnet run -c Release --project bench/Transport.UnixNative.Stress -- --reliability [options]

        Options:
          --quick                small counts (about a minute in all)
          --held N               keep-alive connections held at once (default 50000; --quick: 2000), capped
                                 by RLIMIT_NOFILE (the table says so)
          --idle N               connections for the idle-memory figure (default 5000; --quick: 1000)
          --idle-rounds N        rounds of it, each on a fresh server; the median is reported (default 3; --quick: 1)
          --churn-requests N     requests over churned connections, 10 per connection (default 1000000;
                                 --quick: 20000)
          --peers N              peers per hostile case (default 1000; --quick: 100)
          --storm-clients N      clients of the EMFILE storm (default 800)
          --storm-nofile N       the server's RLIMIT_NOFILE in the storm (default 512)
          --storm-episodes N     storms, each on a fresh server (default 3; --quick: 1)
          --checks a,b           only these: held churn hostile slow emfile restart (default: all)
          --out FILE             also write the report there (e.g. docs/reliability.md)
          --no-build             do not build the sample first
          --root DIR             the repository (default: found upwards from the working directory)
        """;

    public static ReliabilityOptions Parse(IReadOnlyList<string> args)
    {
        var options = args.Contains("--quick")
            ? new ReliabilityOptions { Quick = true, HeldConnections = 2_000, IdleConnections = 1_000, IdleRounds = 1, ChurnRequests = 20_000, Peers = 100, StormEpisodes = 1 }
            : new ReliabilityOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            options = arg switch
            {
                "--reliability" or "--quick" => options,
                "--held" => options with { HeldConnections = PositiveInt(arg, Value()) },
                "--idle" => options with { IdleConnections = PositiveInt(arg, Value()) },
                "--idle-rounds" => options with { IdleRounds = PositiveInt(arg, Value()) },
                "--churn-requests" => options with { ChurnRequests = PositiveInt(arg, Value()) },
                "--peers" => options with { Peers = PositiveInt(arg, Value()) },
                "--storm-clients" => options with { StormClients = PositiveInt(arg, Value()) },
                "--storm-nofile" => options with { StormFileLimit = PositiveInt(arg, Value()) },
                "--storm-episodes" => options with { StormEpisodes = PositiveInt(arg, Value()) },
                "--checks" or "--check" => options with { Checks = CheckNames(Value()) },
                "--out" => options with { OutputFile = Path.GetFullPath(Value()) },
                "--no-build" => options with { Build = false },
                "--root" => options with { Root = Path.GetFullPath(Value()) },
                _ => throw new ArgumentException($"unknown option '{arg}'"),
            };
        }
        return options;
    }

    private static List<string> CheckNames(string value)
    {
        var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var unknown = names.Where(n => !All.Contains(n)).ToArray();
        return unknown.Length == 0
            ? names
            : throw new ArgumentException($"unknown check '{string.Join("', '", unknown)}'; known: {string.Join(", ", All)}");
    }

    private static int PositiveInt(string option, string value)
        => int.TryParse(value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"{option} needs a positive integer, not '{value}'");
}
