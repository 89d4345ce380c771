using System.Diagnostics;
using System.Net.Sockets;

namespace Transport.UnixNative.Stress.Reliability;

/// <summary>
/// Many requests over connections that come and go (10 requests each, then the client closes):
/// the server's descriptors and RSS after must equal those before (within 2 %), or something leaks.
/// </summary>
internal sealed class ChurnCheck : IReliabilityCheck
{
    private const int RequestsPerConnection = 10;
    private const int Workers = 32;
    private const double Flat = 0.02;

    public string Name => "churn";

    public async Task RunAsync(CheckContext context, int index)
    {
        var requests = context.Options.ChurnRequests;
        // A quarter of the run first: the GC heap and the pools take that long to reach their working size.
        var warmup = Math.Max(requests / 4, 2_000);
        var results = new Dictionary<Target, Result>();
        foreach (var target in context.Order(index))
        {
            context.Progress($"churn: {target.Label}, {requests} requests ({RequestsPerConnection} per connection) after {warmup} of warm-up");
            var address = Addresses.Stream();
            await using var server = await ServerChecks.StartAsync(context.SampleDll, target, address, context.CancellationToken, environment: ServerChecks.FixedGen0Budget).ConfigureAwait(false);
            var startFds = server.FdCount();
            // Warm-up: JIT, pools and the GC heap grow to their working size before "before" is taken.
            await DriveAsync(address, warmup, context.CancellationToken).ConfigureAwait(false);
            await server.WaitForFdsAtMostAsync(startFds, TimeSpan.FromSeconds(10), context.CancellationToken).ConfigureAwait(false);
            var fdsBefore = server.FdCount();
            var before = server.Sample();
            // In two halves: a leak grows in both, a heap settling grows in the first only.
            var firstHalf = await DriveAsync(address, requests / 2, context.CancellationToken).ConfigureAwait(false);
            await server.WaitForFdsAtMostAsync(fdsBefore, TimeSpan.FromSeconds(10), context.CancellationToken).ConfigureAwait(false);
            var middle = server.Sample();
            var secondHalf = await DriveAsync(address, requests - requests / 2, context.CancellationToken).ConfigureAwait(false);
            var run = new ChurnRun(firstHalf.Ok + secondHalf.Ok, firstHalf.Failed + secondHalf.Failed, firstHalf.Seconds + secondHalf.Seconds, firstHalf.FirstError ?? secondHalf.FirstError);
            var settled = await server.WaitForFdsAtMostAsync(fdsBefore, TimeSpan.FromSeconds(10), context.CancellationToken).ConfigureAwait(false);
            var after = server.Sample();
            var result = new Result(fdsBefore, server.FdCount(), before.RssKiB, middle.RssKiB, after.RssKiB, run, settled is not null, server.ErrorSummary());
            results[target] = result;
            context.Progress($"churn: {target.Label}: {run.Ok} ok, {run.Failed} failed in {run.Seconds:F1} s; fds {result.FdsBefore} → {result.FdsAfter}, RSS {before.RssKiB} → {after.RssKiB} KiB");
        }

        var targets = context.Targets;
        var report = context.Report;
        var check = $"churn: {Show.Count(requests)} requests";
        report.Add(check, "answered, of all requests", t => Show.OutOf(results[t].Run.Ok, results[t].Run.Ok + results[t].Run.Failed), targets,
            $"{RequestsPerConnection} keep-alive requests per connection, {Workers} clients at once; \"before\" is after {Show.Count(warmup)} warm-up requests. "
            + ServerChecks.PerTarget(targets, t => results[t].Errors + (results[t].Run.FirstError is { } e ? ", first client error: " + e : "")));
        report.Add(check, "server fds before → after", t => $"{results[t].FdsBefore} → {results[t].FdsAfter}{(results[t].FdsAfter <= results[t].FdsBefore ? "" : " (**leak**)")}", targets);
        report.Add(check, "server RSS before → half-way → after", t =>
        {
            var r = results[t];
            var change = (r.RssAfter - r.RssBefore) / (double)r.RssBefore;
            return $"{Show.MiB(r.RssBefore)} → {Show.MiB(r.RssMiddle)} → {Show.MiB(r.RssAfter)} ({Show.Percent(change)}{(Math.Abs(change) <= Flat ? ", flat" : ", **not flat**")})";
        }, targets);
        report.Add(check, "RSS growth in the second half", t => Show.Percent((results[t].RssAfter - results[t].RssMiddle) / (double)results[t].RssBefore), targets,
            $"Flat: within 2 % of \"before\". A leak grows in both halves alike; a heap still settling grows in the first only. Both servers run with {ServerChecks.FixedGen0BudgetSetting}, as in the held check: otherwise RSS steps by one 4 MiB region when the GC grows its gen0 budget.");
        report.Add(check, "requests per second (churned)", t => Show.Count((long)(results[t].Run.Ok / results[t].Run.Seconds)), targets);
    }

    private static async Task<ChurnRun> DriveAsync(ServerAddress address, int requests, CancellationToken cancellationToken)
    {
        var remaining = (long)requests;
        var start = Stopwatch.GetTimestamp();
        var workers = await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            long ok = 0, failed = 0;
            string? firstError = null;
            while (true)
            {
                var take = (int)Math.Min(RequestsPerConnection, Interlocked.Add(ref remaining, -RequestsPerConnection) + RequestsPerConnection);
                if (take <= 0)
                {
                    return (ok, failed, firstError);
                }
                var done = 0;
                try
                {
                    using var socket = address.CreateClientSocket();
                    await socket.ConnectAsync(address.EndPoint, cancellationToken).ConfigureAwait(false);
                    var reader = new HttpResponseReader(SocketType.Stream);
                    for (; done < take; done++)
                    {
                        await socket.SendAsync(Requests.Plaintext, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                        if (await reader.ReadAsync(socket, cancellationToken).ConfigureAwait(false) != 200)
                        {
                            throw new InvalidDataException("not a 200 response");
                        }
                        ok++;
                    }
                }
                catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException)
                {
                    failed += take - done;
                    firstError ??= ex.Message;
                }
            }
        }, cancellationToken))).ConfigureAwait(false);
        return new ChurnRun(workers.Sum(w => w.ok), workers.Sum(w => w.failed), Stopwatch.GetElapsedTime(start).TotalSeconds, workers.Select(w => w.firstError).FirstOrDefault(e => e is not null));
    }

    private sealed record ChurnRun(long Ok, long Failed, double Seconds, string? FirstError);

    private sealed record Result(int FdsBefore, int FdsAfter, long RssBefore, long RssMiddle, long RssAfter, ChurnRun Run, bool Settled, string Errors);
}
