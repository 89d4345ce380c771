using System.Globalization;
using Transport.UnixNative.Bench.Native;

namespace Transport.UnixNative.Bench.Reliability;

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

        var results = new Dictionary<Target, (HeldResult Idle, HeldResult Held, int Fds, string Errors)>();
        foreach (var target in context.Order(index))
        {
            context.Progress($"held: {target.Label}, {idle} then {held} keep-alive connections");
            var address = Addresses.Stream();
            await using var server = await ServerChecks.StartAsync(context.SampleDll, target, address, context.CancellationToken).ConfigureAwait(false);
            var startFds = server.FdCount();
            using (var warm = new HeldConnections())
            {
                await warm.AddAsync(address, Warmup, context.CancellationToken).ConfigureAwait(false);
            }
            await server.WaitForFdsAtMostAsync(startFds + 4, TimeSpan.FromSeconds(10), context.CancellationToken).ConfigureAwait(false);
            var before = server.Sample();
            using var connections = new HeldConnections();
            await connections.AddAsync(address, idle, context.CancellationToken).ConfigureAwait(false);
            var atIdle = new HeldResult(connections.Answered, connections.Failed, (server.Sample().RssKiB - before.RssKiB) / (double)Math.Max(1, connections.Answered));
            await connections.AddAsync(address, held - idle, context.CancellationToken).ConfigureAwait(false);
            var atHeld = new HeldResult(connections.Answered, connections.Failed, (server.Sample().RssKiB - before.RssKiB) / (double)Math.Max(1, connections.Answered));
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
        report.Add("idle-connection memory", $"RSS per connection at {Show.Count(idle)} (KiB/connection)", t => Show.KiB(results[t].Idle.KiBPerConnection), targets);
        if (results.TryGetValue(Target.Native, out var ours) && results.TryGetValue(Target.Sockets, out var theirs) && theirs.Idle.KiBPerConnection > 0)
        {
            report.Add("idle-connection memory", "ours ÷ Sockets (target ≤ 0.75)", t => t.IsOurs ? (ours.Idle.KiBPerConnection / theirs.Idle.KiBPerConnection).ToString("0.00", CultureInfo.InvariantCulture) : "(baseline)", targets);
        }
    }

    private sealed record HeldResult(int Answered, int Failed, double KiBPerConnection);
}
