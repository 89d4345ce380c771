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

/// <summary>The scenario's headline number and whether more is better.</summary>
internal sealed record MetricUnit(string Name, bool HigherIsBetter)
{
    public static readonly MetricUnit RequestsPerSecond = new("req/s", true);
    public static readonly MetricUnit MegabytesPerSecond = new("MB/s", true);
    public static readonly MetricUnit ConnectionsPerSecond = new("conn/s", true);
    public static readonly MetricUnit KiBPerConnection = new("KiB/conn", false);
}

/// <summary>One row group of the report: what load, against which transports.</summary>
/// <param name="Name">The name used with <c>--scenario</c>.</param>
/// <param name="Title">How the report describes it.</param>
/// <param name="Connections">Client connections (workers for churn, held connections for idle).</param>
/// <param name="Streams">h2load <c>-m</c>: pipelined requests (HTTP/1.1) or concurrent streams (HTTP/2) per connection.</param>
/// <param name="Http2">Cleartext HTTP/2 with prior knowledge; the server is started Http2-only.</param>
internal sealed record Scenario(
    string Name,
    string Title,
    ScenarioKind Kind,
    string Path,
    int Connections,
    int Streams,
    bool Http2,
    MetricUnit Unit,
    IReadOnlyList<TransportVariant> Variants);

/// <summary>The scenarios of issue 6, in report order.</summary>
internal static class Scenarios
{
    private static readonly TransportVariant[] Stream = [TransportVariant.Native, TransportVariant.Sockets, TransportVariant.Tcp];

    public static IReadOnlyList<Scenario> All(int idleConnections) =>
    [
        new("h1-c32", "HTTP/1.1 plaintext, 32 conns", ScenarioKind.H2Load, "/plaintext", 32, 1, false, MetricUnit.RequestsPerSecond, Stream),
        new("h1-c256", "HTTP/1.1 plaintext, 256 conns", ScenarioKind.H2Load, "/plaintext", 256, 1, false, MetricUnit.RequestsPerSecond, Stream),
        new("h1-pipelined", "HTTP/1.1 plaintext pipelined -m 16, 32 conns", ScenarioKind.H2Load, "/plaintext", 32, 16, false, MetricUnit.RequestsPerSecond, Stream),
        new("h2c-c32", "HTTP/2 h2c plaintext -m 32, 32 conns", ScenarioKind.H2Load, "/plaintext", 32, 32, true, MetricUnit.RequestsPerSecond, Stream),
        new("get-1mib", "GET 1 MiB body, 1 conn", ScenarioKind.H2Load, "/bytes/1048576", 1, 1, false, MetricUnit.MegabytesPerSecond, Stream),
        new("churn", "connection per request (Connection: close), 16 workers", ScenarioKind.Churn, "/plaintext", 16, 1, false, MetricUnit.ConnectionsPerSecond, Stream),
        new("idle", $"{idleConnections:N0} idle keep-alive conns: server RSS per conn (lower is better)", ScenarioKind.IdleConnections, "/plaintext", idleConnections, 1, false, MetricUnit.KiBPerConnection, Stream),
        new("seqpacket", "seqpacket vs stream: own keep-alive driver, 32 conns", ScenarioKind.RequestLoop, "/plaintext", 32, 1, false, MetricUnit.RequestsPerSecond,
            [TransportVariant.Native, TransportVariant.Seqpacket, TransportVariant.Sockets]),
        new("seqpacket-1mib", "seqpacket vs stream: GET 1 MiB body, own driver, 1 conn", ScenarioKind.RequestLoop, "/bytes/1048576", 1, 1, false, MetricUnit.MegabytesPerSecond,
            [TransportVariant.Native, TransportVariant.Seqpacket, TransportVariant.Sockets]),
    ];
}
