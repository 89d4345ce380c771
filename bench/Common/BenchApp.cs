namespace Transport.UnixNative.Bench.Common;

/// <summary>Which ASP.NET Core app the server runs (nginx ignores it).</summary>
/// <param name="Id">The name used with <c>--apps</c>.</param>
/// <param name="Label">How the report names it.</param>
/// <param name="ProjectPath">The project, relative to the repository root.</param>
/// <param name="SupportsSeqpacket">Whether it takes <c>--seqpacket</c>.</param>
internal sealed record BenchApp(string Id, string Label, string ProjectPath, bool SupportsSeqpacket)
{
    /// <summary>
    /// bench/MinimalApp: one MapGet per route, no middleware, no authentication, so both
    /// transports run the same code per request and a ratio measures the transports alone.
    /// </summary>
    public static readonly BenchApp Minimal = new("minimal", "minimal app", "bench/MinimalApp", SupportsSeqpacket: false);

    /// <summary>
    /// samples/WebOverUds as shipped: it authenticates every request by the peer's credentials,
    /// which only our transport provides (on Kestrel's Sockets transport the handler finds none).
    /// </summary>
    public static readonly BenchApp Sample = new("sample", "WebOverUds sample", "samples/WebOverUds", SupportsSeqpacket: true);

    public static IReadOnlyList<BenchApp> All { get; } = [Minimal, Sample];

    public string ProjectDirectory(string root) => Path.Combine(root, ProjectPath);

    public string Dll(string root) => Path.Combine(ProjectDirectory(root), "bin", "Release", "net10.0", Path.GetFileName(ProjectPath) + ".dll");
}
