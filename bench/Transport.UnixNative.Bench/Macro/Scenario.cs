namespace Transport.UnixNative.Bench.Macro;

internal enum ScenarioKind
{
    /// <summary>h2load drives the server: one throughput run, then one latency run with --log-file.</summary>
    H2Load,

    /// <summary>Our own driver opens a connection per request (h2load cannot reconnect).</summary>
    Churn,

    /// <summary>Our own driver sends keep-alive requests one at a time per connection (it speaks seqpacket too).</summary>
    RequestLoop,

    /// <summary>Our own driver opens many connections, one request each, and holds them open.</summary>
    IdleConnections,
}

/// <summary>Where server and load run.</summary>
internal enum Placement
{
    /// <summary>The server alone on core 0, the load generator on core 1: capacity per core (the headline table).</summary>
    Pinned,

    /// <summary>Both free to use every core: the contention table.</summary>
    Shared,
}

/// <summary>The scenario's headline number and whether more is better.</summary>
internal sealed record MetricUnit(string Name, bool HigherIsBetter)
{
    public static readonly MetricUnit RequestsPerSecond = new("req/s", true);
    public static readonly MetricUnit MegabytesPerSecond = new("MB/s", true);
    public static readonly MetricUnit ConnectionsPerSecond = new("conn/s", true);
    public static readonly MetricUnit KiBPerConnection = new("KiB/conn", false);
}

/// <summary>One row group of the report: what load, against which transports, served by which app.</summary>
/// <param name="Name">The name used with <c>--scenario</c> (the same for every app).</param>
/// <param name="Title">How the report describes it.</param>
/// <param name="Connections">Client connections (workers for churn, held connections for idle).</param>
/// <param name="Streams">h2load <c>-m</c>: pipelined requests (HTTP/1.1) or concurrent streams (HTTP/2) per connection.</param>
/// <param name="Http2">Cleartext HTTP/2 with prior knowledge; the server is started Http2-only.</param>
/// <param name="App">The app serving it (default: the sample).</param>
/// <param name="ServerArgs">Extra command-line arguments for the app (e.g. <c>--inline</c>).</param>
/// <param name="BaselineVariant">What the ratios divide by (default: Kestrel's Sockets transport on a unix socket).</param>
/// <param name="BaselineName">How the ratio cells name that baseline.</param>
/// <param name="Headline">In the headline table: measured every round (<c>--rounds</c>); the others only in the first <c>--other-rounds</c>.</param>
/// <param name="Placement">Server and load on a core each, or sharing all cores.</param>
internal sealed record Scenario(
    string Name,
    string Title,
    ScenarioKind Kind,
    string Path,
    int Connections,
    int Streams,
    bool Http2,
    MetricUnit Unit,
    IReadOnlyList<TransportVariant> Variants,
    BenchApp? App = null,
    IReadOnlyList<string>? ServerArgs = null,
    TransportVariant? BaselineVariant = null,
    string BaselineName = "Sockets",
    bool Headline = false,
    Placement Placement = Placement.Shared)
{
    public BenchApp Server => App ?? BenchApp.Sample;

    /// <summary>Identifies the scenario on one app and placement in measurements and the JSON: <c>name/app</c>, <c>name/app/per-core</c> when pinned.</summary>
    public string Id => Placement == Placement.Pinned ? $"{Name}/{Server.Id}/per-core" : $"{Name}/{Server.Id}";

    public bool Pinned => Placement == Placement.Pinned;

    public TransportVariant Baseline => BaselineVariant ?? TransportVariant.Baseline;

    /// <summary>The title with the app, as the report shows it.</summary>
    public string FullTitle => $"{Title} — {Server.Label}";

    public IReadOnlyList<string> Arguments => ServerArgs ?? [];
}

/// <summary>
/// The scenarios, in report order. Every load runs on the same-work minimal
/// app (against our transport, Kestrel's Sockets transport on unix, on TCP for the plaintext,
/// h2c and churn loads, and nginx where it can answer the same) and on the sample as shipped
/// (ours vs Sockets on unix). TCP and nginx rows are kept few so a full run (both placements) stays under 35 minutes.
/// </summary>
internal static class Scenarios
{
    private static readonly TransportVariant[] Stream = [TransportVariant.Native, TransportVariant.Sockets, TransportVariant.Tcp];
    private static readonly TransportVariant[] StreamAndNginx = [TransportVariant.Native, TransportVariant.Sockets, TransportVariant.Tcp, TransportVariant.Nginx];
    private static readonly TransportVariant[] Unix = [TransportVariant.Native, TransportVariant.Sockets];
    private static readonly TransportVariant[] UnixAndNginx = [TransportVariant.Native, TransportVariant.Sockets, TransportVariant.Nginx];
    private static readonly TransportVariant[] Packets = [TransportVariant.Native, TransportVariant.Seqpacket];

    public static IReadOnlyList<Scenario> All(int idleConnections) =>
    [
        .. Both(new("h1-c32", "HTTP/1.1 plaintext, 32 conns", ScenarioKind.H2Load, "/plaintext", 32, 1, false, MetricUnit.RequestsPerSecond, StreamAndNginx)),
        .. Both(new("h1-c256", "HTTP/1.1 plaintext, 256 conns", ScenarioKind.H2Load, "/plaintext", 256, 1, false, MetricUnit.RequestsPerSecond, UnixAndNginx)),
        .. Both(new("h1-pipelined", "HTTP/1.1 plaintext pipelined -m 16, 32 conns", ScenarioKind.H2Load, "/plaintext", 32, 16, false, MetricUnit.RequestsPerSecond, UnixAndNginx)),
        .. Both(new("h2c-c32", "HTTP/2 h2c plaintext -m 32, 32 conns", ScenarioKind.H2Load, "/plaintext", 32, 32, true, MetricUnit.RequestsPerSecond, StreamAndNginx)),
        .. Both(new("get-1mib", "GET 1 MiB body, 1 conn", ScenarioKind.H2Load, "/bytes/1048576", 1, 1, false, MetricUnit.MegabytesPerSecond, UnixAndNginx)),
        new("h1-inline", "HTTP/1.1 plaintext, 32 conns, UnsafePreferInlineScheduling on both transports", ScenarioKind.H2Load, "/plaintext", 32, 1, false, MetricUnit.RequestsPerSecond,
            [TransportVariant.Native, TransportVariant.Sockets, TransportVariant.Nginx], BenchApp.Minimal, ["--inline"], Headline: true),
        .. Both(new("churn", "connection per request (Connection: close), 16 workers", ScenarioKind.Churn, "/plaintext", 16, 1, false, MetricUnit.ConnectionsPerSecond, Stream)),
        new("idle", $"{idleConnections:N0} idle keep-alive conns: server RSS per conn (lower is better)", ScenarioKind.IdleConnections, "/plaintext", idleConnections, 1, false, MetricUnit.KiBPerConnection, Stream, BenchApp.Minimal),
        new("seqpacket", "SOCK_SEQPACKET vs SOCK_STREAM (both ours): own keep-alive driver, 32 conns", ScenarioKind.RequestLoop, "/plaintext", 32, 1, false, MetricUnit.RequestsPerSecond,
            Packets, BenchApp.Sample, BaselineVariant: TransportVariant.Native, BaselineName: "SOCK_STREAM"),
        new("seqpacket-1mib", "SOCK_SEQPACKET vs SOCK_STREAM (both ours): GET 1 MiB body, own driver, 1 conn", ScenarioKind.RequestLoop, "/bytes/1048576", 1, 1, false, MetricUnit.MegabytesPerSecond,
            Packets, BenchApp.Sample, BaselineVariant: TransportVariant.Native, BaselineName: "SOCK_STREAM"),
    ];

    /// <summary>The rows of the per-core table (<c>name/app</c>): what a 1-CPU sidecar serves.</summary>
    private static readonly string[] PerCoreIds =
        ["h1-c32/minimal", "h1-c256/minimal", "h1-pipelined/minimal", "h2c-c32/minimal", "get-1mib/minimal", "h1-inline/minimal", "h1-c32/sample"];

    /// <summary>
    /// The per-core table: the h2load loads of the minimal app and the sample's h1 c32, ours vs Sockets on the same
    /// unix socket vs nginx where it answers the same (no TCP row: the question is the transport per core), every round.
    /// </summary>
    public static IReadOnlyList<Scenario> PerCore(int idleConnections)
    {
        var all = All(idleConnections);
        return PerCoreIds
            .Select(id => all.Single(s => s.Id == id))
            .Select(s => s with { Placement = Placement.Pinned, Headline = true, Variants = s.Variants.Where(v => v != TransportVariant.Tcp).ToArray() })
            .ToArray();
    }

    /// <summary>
    /// The scenario on the minimal app with every variant (h2load loads in the headline table),
    /// then on the sample with ours vs Sockets on unix.
    /// </summary>
    private static Scenario[] Both(Scenario scenario) =>
    [
        scenario with { App = BenchApp.Minimal, Headline = scenario.Kind == ScenarioKind.H2Load },
        scenario with { App = BenchApp.Sample, Variants = scenario.Variants.Where(v => Unix.Contains(v)).ToArray() },
    ];
}
