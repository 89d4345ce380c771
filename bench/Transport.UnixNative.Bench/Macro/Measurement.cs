namespace Transport.UnixNative.Bench.Macro;

/// <summary>One round of one scenario on one transport.</summary>
/// <param name="Value">The scenario's headline number, in its <see cref="MetricUnit"/>.</param>
/// <param name="P50Us">Median request latency in µs (from the separate latency run for h2load scenarios).</param>
/// <param name="CpuSecondsPer100k">Server utime+stime over the measured window per 100,000 requests (or connections).</param>
/// <param name="PeakRssKiB">The server's VmHWM at the end of the measurement.</param>
/// <param name="Requests">Requests (or connections) counted in the measured window.</param>
/// <param name="Errors">Failed requests in the window (only our own drivers tolerate any).</param>
/// <param name="Note">What went wrong with the errors, if any.</param>
/// <param name="ServerErrorLogs">Error/Critical entries the server logged while it ran (a healthy run has none).</param>
/// <param name="Extra">Numbers worth keeping in the JSON that the table does not show.</param>
internal sealed record Measurement(
    string Scenario,
    string Transport,
    int Round,
    double Value,
    double? P50Us,
    double? P99Us,
    double? CpuSecondsPer100k,
    long PeakRssKiB,
    long Requests,
    double Seconds,
    long Errors,
    string? Note,
    int ServerErrorLogs,
    string? FirstServerErrorLog,
    IReadOnlyDictionary<string, double> Extra);

/// <summary>Everything one measurement needs: the running server and where the client goes.</summary>
internal sealed record MeasureContext(
    Scenario Scenario,
    TransportVariant Variant,
    int Round,
    ServerProcess Server,
    ServerAddress Target,
    BenchOptions Options,
    H2LoadRunner H2Load,
    CancellationToken CancellationToken)
{
    /// <summary>CPU seconds per 100,000 operations between two samples of the server.</summary>
    public static double CpuPer100k(ProcSample before, ProcSample after, long operations)
        => operations == 0 ? double.NaN : (after.CpuSeconds - before.CpuSeconds) / operations * 100_000;

    public Measurement Result(double value, double? p50, double? p99, double? cpu, long requests, double seconds, long errors = 0, string? note = null, IReadOnlyDictionary<string, double>? extra = null)
        => new(Scenario.Name, Variant.Id, Round, value, p50, p99, cpu, Server.Sample().PeakRssKiB, requests, seconds, errors, note,
            Server.ErrorLogCount, Server.FirstErrorLog, extra ?? new Dictionary<string, double>());
}

/// <summary>How one kind of scenario loads a running server and what it reads off it.</summary>
internal interface IMeasure
{
    Task<Measurement> MeasureAsync(MeasureContext context);
}
