namespace Transport.UnixNative.Bench.Macro;

/// <summary>One column of the comparison: which server serves, over which kind of socket.</summary>
/// <param name="Id">The name used with <c>--transports</c>.</param>
/// <param name="Label">How the report names it.</param>
/// <param name="ServerTransport">The app's <c>--transport</c> value, or <c>nginx</c> for nginx itself.</param>
/// <param name="Kind">The socket the client connects to.</param>
internal sealed record TransportVariant(string Id, string Label, string ServerTransport, AddressKind Kind)
{
    public static readonly TransportVariant Native = new("native", "UnixNative, unix", "native", AddressKind.UnixStream);
    public static readonly TransportVariant Sockets = new("sockets", "Sockets, unix", "sockets", AddressKind.UnixStream);
    public static readonly TransportVariant Tcp = new("tcp", "Sockets, TCP loopback", "sockets", AddressKind.Tcp);
    public static readonly TransportVariant Seqpacket = new("seqpacket", "UnixNative, unix seqpacket", "native", AddressKind.UnixSeqpacket);

    /// <summary>nginx, one process (<c>master_process off</c>), answering from its config on the same kind of unix socket.</summary>
    public static readonly TransportVariant Nginx = new("nginx", "nginx, unix", "nginx", AddressKind.UnixStream);

    public static IReadOnlyList<TransportVariant> All { get; } = [Native, Sockets, Tcp, Nginx, Seqpacket];

    /// <summary>Ratios in the report are measured against this one unless a scenario names another: Kestrel's own transport on the same kind of socket.</summary>
    public static TransportVariant Baseline => Sockets;

    public bool IsOurs => ServerTransport == "native";

    public bool IsNginx => ServerTransport == "nginx";
}
