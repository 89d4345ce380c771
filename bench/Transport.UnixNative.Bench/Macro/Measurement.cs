namespace Transport.UnixNative.Bench.Macro;

/// <summary>One round of one scenario (<see cref="Macro.Scenario.Id"/>: name/app) on one transport.</summary>
/// <param name="Value">The scenario's headline number, in its <see cref="MetricUnit"/>.</param>
/// <param name="P50Us">Median request latency in µs (from the separate latency run for h2load scenarios).</param>
/// <param name="CpuSecondsPer100k">Server utime+stime over the measured window per 100,000 requests (or connections).</param>
/// <param name="PeakRssKiB">The server's VmHWM at the end of the measurement.</param>
/// <param name="Requests">Requests (or connections) counted in the measured window.</param>
/// <param name="Errors">Failed requests in the window (only our own drivers tolerate any).</param>
/// <param name="Note">What went wrong with the errors, if any.</param>
/// <param name="ServerErrorLogs">Error/Critical entries the server logged while it ran (a healthy run has none).</param>
/// <param name="OthersCpuShare">The share of the machine's CPU that processes other than the server and the client used during the measured window.</param>
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
    double OthersCpuShare,
    IReadOnlyDictionary<string, double> Extra);

/// <summary>Everything one measurement needs: the running server and where the client goes.</summary>
internal sealed class MeasureContext(
    Scenario scenario,
    TransportVariant variant,
    int round,
    ServerProcess server,
    ServerAddress target,
    BenchOptions options,
    H2LoadRunner h2load,
    CancellationToken cancellationToken)
{
    public Scenario Scenario => scenario;
    public TransportVariant Variant => variant;
    public int Round => round;
    public ServerProcess Server => server;
    public ServerAddress Target => target;
    public BenchOptions Options => options;
    public H2LoadRunner H2Load => h2load;
    public CancellationToken CancellationToken => cancellationToken;

    private WindowCost? _window;

    /// <summary>Samples the server and the machine where the measured window starts.</summary>
    public WindowStart StartWindow() => new(Server.Sample(), ProcStat.ReadMachine(), System.Diagnostics.Stopwatch.GetTimestamp());

    /// <summary>What the window cost the server, and what other processes took meanwhile.</summary>
    public WindowCost EndWindow(WindowStart start)
    {
        var server = Server.Sample();
        var machine = ProcStat.ReadMachine();
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(start.Timestamp).TotalSeconds;
        var serverCpu = server.CpuSeconds - start.Server.CpuSeconds;
        var others = (machine.BusySeconds - start.Machine.BusySeconds) - serverCpu - (machine.OursSeconds - start.Machine.OursSeconds);
        var cost = new WindowCost(serverCpu, Math.Max(0, others), seconds);
        _window = cost;
        return cost;
    }

    public Measurement Result(double value, double? p50, double? p99, double? cpu, long requests, double seconds, long errors = 0, string? note = null, IReadOnlyDictionary<string, double>? extra = null)
        => new(Scenario.Id, Variant.Id, Round, value, p50, p99, cpu, Server.Sample().PeakRssKiB, requests, seconds, errors, note,
            Server.ErrorLogCount, Server.FirstErrorLog, _window?.OthersShare ?? double.NaN, extra ?? new Dictionary<string, double>());
}

/// <summary>Samples taken where a measured window starts.</summary>
internal readonly record struct WindowStart(ProcSample Server, MachineSample Machine, long Timestamp);

/// <summary>CPU used during a measured window: by the server, and by everything that is neither server nor client.</summary>
internal readonly record struct WindowCost(double ServerCpuSeconds, double OthersCpuSeconds, double Seconds)
{
    /// <summary>Server CPU seconds per 100,000 operations.</summary>
    public double CpuPer100k(long operations) => operations == 0 ? double.NaN : ServerCpuSeconds / operations * 100_000;

    /// <summary>The fraction of all cores that other processes used.</summary>
    public double OthersShare => Seconds <= 0 ? double.NaN : OthersCpuSeconds / (Seconds * Environment.ProcessorCount);
}

/// <summary>How one kind of scenario loads a running server and what it reads off it.</summary>
internal interface IMeasure
{
    Task<Measurement> MeasureAsync(MeasureContext context);
}
