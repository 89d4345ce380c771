using System.Globalization;
using Transport.UnixNative.Bench.Native;

namespace Transport.UnixNative.Stress.Reliability;

/// <summary>
/// Many keep-alive connections at once, each answered once and then idle: are they all served,
/// and what does each cost the server in resident memory (at the idle count, then at the full count)?
/// </summary>
internal sealed class HeldConnectionsCheck : IReliabilityCheck
{
    private const int Warmup = 256;
    private const int Reserve = 1024; // descriptors the runtime, the pools and the listener need besides the connections

    public string Name => "held";

    public async Task RunAsync(CheckContext context, int index)
    {
        var options = context.Options;
        var wanted = (ulong)options.HeldConnections + Reserve;
        if (!BenchNative.TryRaiseFileLimit(wanted))
        {
            BenchNative.RaiseFileLimit();
        }
        var (soft, hard) = BenchNative.FileLimits();
        // The server child gets min(65536, hard) from ServerProcess: the same hard limit binds both.
        var limit = (int)Math.Min(soft, 65536);
        var held = Math.Min(options.HeldConnections, limit - Reserve);
        var idle = Math.Min(options.IdleConnections, held);
        string? capNote = held < options.HeldConnections
            ? $"{Show.Count(options.HeldConnections)} requested; RLIMIT_NOFILE here is {soft} (hard {hard}) and cannot be raised without CAP_SYS_RESOURCE, so {Show.Count(held)} were held."
            : null;

        // The idle figure moves with the GC heap's timing by 10 % or more: extra rounds on fresh servers, alternating.
        var idleSamples = context.Targets.ToDictionary(t => t, _ => new List<double>());
        for (var round = 1; round < options.IdleRounds; round++)
        {
            foreach (var target in context.Order(index + round))
            {
                var address = Addresses.Stream();
                await using var server = await ServerChecks.StartAsync(context.SampleDll, target, address, context.CancellationToken, environment: ServerChecks.FixedGen0Budget).ConfigureAwait(false);
                var (connections, before) = await WarmUpAndOpenAsync(server, address, idle, context.CancellationToken).ConfigureAwait(false);
                using (connections)
                {
                    idleSamples[target].Add((server.Sample().RssKiB - before) / (double)Math.Max(1, connections.Answered));
                }
                context.Progress($"held: {target.Label}: idle round {round}: {idleSamples[target][^1]:F1} KiB per connection");
            }
        }

        var results = new Dictionary<Target, (HeldResult Idle, HeldResult Held, int Fds, string Errors)>();
        foreach (var target in context.Order(index))
        {
            context.Progress($"held: {target.Label}, {idle} then {held} keep-alive connections");
            var address = Addresses.Stream();
            await using var server = await ServerChecks.StartAsync(context.SampleDll, target, address, context.CancellationToken, environment: ServerChecks.FixedGen0Budget).ConfigureAwait(false);
            var startFds = server.FdCount();
            var (connections, before) = await WarmUpAndOpenAsync(server, address, idle, context.CancellationToken).ConfigureAwait(false);
            using var _ = connections;
            var atIdle = new HeldResult(connections.Answered, connections.Failed, (server.Sample().RssKiB - before) / (double)Math.Max(1, connections.Answered));
            idleSamples[target].Add(atIdle.KiBPerConnection);
            await connections.AddAsync(address, held - idle, context.CancellationToken).ConfigureAwait(false);
            var atHeld = new HeldResult(connections.Answered, connections.Failed, (server.Sample().RssKiB - before) / (double)Math.Max(1, connections.Answered));
            var fds = server.FdCount() - startFds;
            var errors = connections.FirstError is null ? server.ErrorSummary() : $"first client error: {connections.FirstError}; {server.ErrorSummary()}";
            results[target] = (atIdle, atHeld, fds, errors);
            context.Progress($"held: {target.Label}: {atHeld.Answered}/{held} answered, {atHeld.KiBPerConnection:F1} KiB each; idle {atIdle.KiBPerConnection:F1} KiB; {errors}");
        }

        var targets = context.Targets;
        var report = context.Report;
        report.Add("keep-alive connections held", $"answered, of {Show.Count(held)} held at once", t => Show.OutOf(results[t].Held.Answered, held), targets,
            string.Join(" ", new[] { capNote, ServerChecks.PerTarget(targets, t => results[t].Errors) }.Where(n => n is not null)));
        report.Add("keep-alive connections held", "connection descriptors in the server", t => Show.Count(results[t].Fds), targets);
        report.Add("keep-alive connections held", $"server RSS per connection at {Show.Count(held)}", t => Show.KiB(results[t].Held.KiBPerConnection), targets);
        var idleMedian = idleSamples.ToDictionary(p => p.Key, p => Statistics.Median(p.Value) ?? double.NaN);
        report.Add("idle-connection memory", $"RSS per connection at {Show.Count(idle)} (KiB/connection), median of {options.IdleRounds}", t => Show.KiB(idleMedian[t]), targets,
            $"Each round on a fresh server after {Warmup} warm-up connections: VmRSS with the connections open less VmRSS before, over the connections. Both servers run with {ServerChecks.FixedGen0BudgetSetting} (a fixed gen0 budget), so a round does not depend on when a gen2 collection ran.");
        report.Add("idle-connection memory", "rounds (KiB/connection)", t => string.Join(", ", idleSamples[t].Select(v => v.ToString("0.0", CultureInfo.InvariantCulture))), targets);
        if (idleMedian.TryGetValue(Target.Native, out var ours) && idleMedian.TryGetValue(Target.Sockets, out var theirs) && theirs > 0)
        {
            report.Add("idle-connection memory", "ours ÷ Sockets, medians (target ≤ 0.75)", t => t.IsOurs ? (ours / theirs).ToString("0.00", CultureInfo.InvariantCulture) : "(baseline)", targets);
        }

        // What one more idle connection costs: the slope between the two counts in the same server. RSS
        // at either count also holds whatever the process added once (the GC's budgets, the pool, the
        // runtime's own growth), which does not grow with the connections and cancels in the slope.
        var marginal = results.ToDictionary(p => p.Key, p => Marginal(p.Value.Idle, p.Value.Held));
        report.Add("idle-connection memory", $"marginal RSS per connection, {Show.Count(idle)} → {Show.Count(held)} held (KiB/connection)",
            t => marginal[t] is { } kib ? Show.KiB(kib) : "n/a", targets,
            "In the held run: (VmRSS at the held count − VmRSS at the idle count) ÷ the connections added. The figures above divide by all connections and so include what the process added once, whatever the count (4–8 MB here).");
        if (marginal.TryGetValue(Target.Native, out var oursMarginal) && marginal.TryGetValue(Target.Sockets, out var theirsMarginal) && oursMarginal is > 0 && theirsMarginal is > 0)
        {
            report.Add("idle-connection memory", "ours ÷ Sockets, marginal", t => t.IsOurs ? (oursMarginal.Value / theirsMarginal.Value).ToString("0.00", CultureInfo.InvariantCulture) : "(baseline)", targets);
        }
    }

    /// <summary>KiB per connection between the idle and the held sample of one server, or null without connections in between.</summary>
    private static double? Marginal(HeldResult idle, HeldResult held) => held.Answered > idle.Answered
        ? (held.KiBPerConnection * held.Answered - idle.KiBPerConnection * idle.Answered) / (held.Answered - idle.Answered)
        : null;

    /// <summary>Warm-up connections opened and closed, then <paramref name="count"/> held: returns them and VmRSS (KiB) before them.</summary>
    private static async Task<(HeldConnections Connections, long RssBefore)> WarmUpAndOpenAsync(ServerProcess server, ServerAddress address, int count, CancellationToken cancellationToken)
    {
        var startFds = server.FdCount();
        using (var warm = new HeldConnections())
        {
            await warm.AddAsync(address, Warmup, cancellationToken).ConfigureAwait(false);
        }
        await server.WaitForFdsAtMostAsync(startFds + 4, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        var before = server.Sample().RssKiB;
        var connections = new HeldConnections();
        try
        {
            await connections.AddAsync(address, count, cancellationToken).ConfigureAwait(false);
            return (connections, before);
        }
        catch
        {
            connections.Dispose();
            throw;
        }
    }

    private sealed record HeldResult(int Answered, int Failed, double KiBPerConnection);
}
