using System.Diagnostics;
using Transport.UnixNative.Bench.Macro.Measures;
using Transport.UnixNative.Bench.Report;

namespace Transport.UnixNative.Bench.Macro;

/// <summary>
/// Runs every selected scenario on every selected transport, round after round, each on a
/// freshly started server and a fresh socket. Transports take turns within a round, in an order
/// rotated every round (each goes first as often as the others), so neither a slow drift of the
/// machine nor what ran just before favours one of them. One placement's rounds all run before the
/// next placement's (per core first).
/// </summary>
internal sealed class BenchRunner(BenchOptions options, SampleBuild layout, H2LoadRunner h2load, TextWriter log)
{
    private readonly H2LoadRunner _pinnedH2Load = h2load.PinnedTo(CorePinning.LoadCore);

    public async Task<BenchRun> RunAsync(IReadOnlyList<Scenario> scenarios, CancellationToken cancellationToken)
    {
        var run = new BenchRun();
        var skipped = new HashSet<(string, string)>();
        var gate = new QuietGate(options.MaxQuietWait, log);
        foreach (var placement in scenarios.Select(s => s.Placement).Distinct())
        {
            log.WriteLine(placement == Placement.Pinned
                ? $"# per core: server on core {CorePinning.ServerCore} (taskset), h2load on core {CorePinning.LoadCore}"
                : "# contention: server and load share all cores");
            await RunRoundsAsync(scenarios.Where(s => s.Placement == placement).ToArray(), run, skipped, gate, cancellationToken).ConfigureAwait(false);
        }
        run.Finished = DateTimeOffset.UtcNow;
        return run;
    }

    private async Task RunRoundsAsync(IReadOnlyList<Scenario> scenarios, BenchRun run, HashSet<(string, string)> skipped, QuietGate gate, CancellationToken cancellationToken)
    {
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var scenario in scenarios.Where(s => round <= options.RoundsOf(s)))
            {
                foreach (var variant in InTurn(options.VariantsOf(scenario), round))
                {
                    if (skipped.Contains((scenario.Id, variant.Id)))
                    {
                        continue;
                    }
                    cancellationToken.ThrowIfCancellationRequested();
                    var prefix = $"[{(scenario.Pinned ? "per core" : "shared")} {round}/{options.RoundsOf(scenario)}] {scenario.Name,-14} {scenario.Server.Id,-7} {variant.Label,-27}";
                    var clock = Stopwatch.StartNew();
                    try
                    {
                        var measurement = await MeasureLeastDisturbedAsync(scenario, variant, round, gate, prefix, cancellationToken).ConfigureAwait(false);
                        run.Measurements.Add(measurement);
                        log.WriteLine($"{prefix} {Describe(scenario, measurement)}  ({clock.Elapsed.TotalSeconds:F1} s)");
                    }
                    catch (ScenarioSkippedException ex)
                    {
                        skipped.Add((scenario.Id, variant.Id));
                        run.Skipped.Add(new Outcome(scenario.Id, variant.Id, round, ex.Message));
                        log.WriteLine($"{prefix} SKIPPED: {ex.Message}");
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        run.Failures.Add(new Outcome(scenario.Id, variant.Id, round, ex.Message));
                        log.WriteLine($"{prefix} FAILED: {ex.Message}");
                    }
                }
            }
        }
    }

    /// <summary>Round 1 keeps the listed order, round 2 starts with the second variant, and so on.</summary>
    private static IEnumerable<TransportVariant> InTurn(IReadOnlyList<TransportVariant> variants, int round)
        => variants.Count == 0 ? variants : variants.Skip((round - 1) % variants.Count).Concat(variants.Take((round - 1) % variants.Count));

    /// <summary>
    /// Measures once; while other processes took more than <see cref="BenchOptions.NoisyShare"/> of
    /// the CPUs during the window, measures again (up to <see cref="BenchOptions.Retries"/> times)
    /// and keeps the attempt they disturbed least.
    /// </summary>
    private async Task<Measurement> MeasureLeastDisturbedAsync(Scenario scenario, TransportVariant variant, int round, QuietGate gate, string prefix, CancellationToken cancellationToken)
    {
        Measurement? best = null;
        for (var attempt = 0; attempt <= options.Retries; attempt++)
        {
            if (options.MaxQuietWait > TimeSpan.Zero)
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            var measurement = await RunOneAsync(scenario, variant, round, cancellationToken).ConfigureAwait(false);
            if (best is null || !(measurement.OthersCpuShare >= best.OthersCpuShare))
            {
                best = measurement;
            }
            if (!(best.OthersCpuShare > options.NoisyShare))
            {
                break;
            }
            if (attempt < options.Retries)
            {
                log.WriteLine($"{prefix} other processes took {Format.Share(measurement.OthersCpuShare)} of the CPUs: measuring again");
            }
        }
        return best!;
    }

    private async Task<Measurement> RunOneAsync(Scenario scenario, TransportVariant variant, int round, CancellationToken cancellationToken)
    {
        var listen = ServerAddress.Fresh(variant.Kind == AddressKind.Tcp ? AddressKind.Tcp : AddressKind.UnixStream);
        var seqpacket = variant.Kind == AddressKind.UnixSeqpacket ? ServerAddress.Fresh(AddressKind.UnixSeqpacket) : null;
        var spec = new ServerSpec(variant.ServerTransport, listen, seqpacket, scenario.Http2)
        {
            Arguments = scenario.Arguments,
            BodyPath = scenario.Path,
            Core = scenario.Pinned ? CorePinning.ServerCore : null,
        };
        await using var server = await ServerProcess.StartAsync(layout.DllOf(scenario.Server), spec, cancellationToken).ConfigureAwait(false);
        var load = scenario.Pinned ? _pinnedH2Load : h2load;
        var context = new MeasureContext(scenario, variant, round, server, seqpacket ?? listen, options, load, cancellationToken);
        try
        {
            return await MeasureFor(scenario.Kind).MeasureAsync(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !string.IsNullOrWhiteSpace(server.Output))
        {
            throw new IOException($"{ex.Message}\n    server output: {server.Output.Trim().Replace("\n", "\n    ", StringComparison.Ordinal)}", ex);
        }
    }

    private static IMeasure MeasureFor(ScenarioKind kind) => kind switch
    {
        ScenarioKind.H2Load => new H2LoadMeasure(),
        ScenarioKind.Churn => new ChurnMeasure(),
        ScenarioKind.RequestLoop => new RequestLoopMeasure(),
        ScenarioKind.IdleConnections => new IdleMeasure(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static string Describe(Scenario scenario, Measurement m)
    {
        var text = $"{Format.Value(m.Value, scenario.Unit),16}";
        if (m.P50Us is { } p50 && m.P99Us is { } p99)
        {
            text += $"  p50 {Format.Latency(p50)}  p99 {Format.Latency(p99)}";
        }
        text += $"  CPU {Format.Cpu(m.CpuSecondsPer100k)} s/100k  peak RSS {Format.Rss(m.PeakRssKiB)}  others {Format.Share(m.OthersCpuShare)}";
        if (m.Errors > 0)
        {
            text += $"  {m.Errors} errors ({m.Note})";
        }
        if (m.ServerErrorLogs > 0)
        {
            text += $"  SERVER LOGGED {m.ServerErrorLogs} ERRORS, first: {m.FirstServerErrorLog}";
        }
        return text;
    }
}
