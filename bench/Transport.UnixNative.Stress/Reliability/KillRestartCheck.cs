using System.Diagnostics;
using System.Net.Sockets;

namespace Transport.UnixNative.Stress.Reliability;

/// <summary>
/// kill -9 while clients keep requesting, then start a new server on the same path (the killed
/// one could not unlink its socket file): how long until the new one serves, and how many
/// requests failed on the way (and after it serves: none should).
/// </summary>
internal sealed class KillRestartCheck : IReliabilityCheck
{
    private const int Clients = 8;
    private const int SteadyRequests = 1_000;
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan ServeTimeout = TimeSpan.FromSeconds(30);

    public string Name => "restart";

    public async Task RunAsync(CheckContext context, int index)
    {
        var results = new Dictionary<Target, Result>();
        var withDelete = new Dictionary<Target, Result>();
        foreach (var target in context.Order(index))
        {
            context.Progress($"restart: {target.Label}, kill -9 under {Clients} retrying clients, then start again on the same path");
            results[target] = await RunOnceAsync(context, target, deleteStaleFile: false).ConfigureAwait(false);
            var r = results[target];
            context.Progress($"restart: {target.Label}: served again after {Show.Seconds(r.Seconds)}; {r.FailedWhileDown} failed while down, {r.FailedAfter} after; {r.Note}");
            if (r.Seconds is null)
            {
                // What a deployment of this transport has to script: remove the dead server's socket file first.
                withDelete[target] = await RunOnceAsync(context, target, deleteStaleFile: true).ConfigureAwait(false);
                context.Progress($"restart: {target.Label} with the stale socket file deleted first: served again after {Show.Seconds(withDelete[target].Seconds)}");
            }
        }

        var targets = context.Targets;
        var report = context.Report;
        const string check = "kill -9, restart on the same path";
        report.Add(check, "seconds from the kill until the new server answers", t => results[t].Seconds is { } s ? Show.Seconds(s) : "**never**", targets,
            $"{Clients} clients send GET /plaintext in a loop (a new connection after each failure, retried after 10 ms); the new server is started at once after SIGKILL. "
            + ServerChecks.PerTarget(targets, t => results[t].Note));
        report.Add(check, "requests failed while it was down", t => Show.Count(results[t].FailedWhileDown), targets);
        report.Add(check, "requests failed after it answered again", t => Show.Count(results[t].FailedAfter), targets);
        if (withDelete.Count > 0)
        {
            report.Add(check, "seconds until it answers when the stale socket file is deleted before the restart", t => withDelete.TryGetValue(t, out var r) ? (r.Seconds is { } s ? Show.Seconds(s) : "**never**") : "not needed", targets);
        }
    }

    private sealed record Result(double? Seconds, long FailedWhileDown, long FailedAfter, string Note);

    private static async Task<Result> RunOnceAsync(CheckContext context, Target target, bool deleteStaleFile)
    {
        var ct = context.CancellationToken;
        var address = Addresses.Stream();
        var first = await ServerChecks.StartAsync(context.SampleDll, target, address, ct).ConfigureAwait(false);
        ServerProcess? second = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        long killedAt = 0, servedAgainAt = 0, failedWhileDown = 0, failedAfter = 0, okBefore = 0, okAfter = 0;
        var warmedUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var steady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clients = Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                // An attempt counts for the phase it started in: a response that left the first server
                // just before the kill is not the new server answering.
                var begun = Stopwatch.GetTimestamp();
                var ok = await OneRequestAsync(address, stop.Token).ConfigureAwait(false);
                var killed = Volatile.Read(ref killedAt);
                var startedAfterKill = killed != 0 && begun > killed;
                if (ok)
                {
                    if (killed == 0)
                    {
                        if (Interlocked.Increment(ref okBefore) == SteadyRequests)
                        {
                            warmedUp.TrySetResult();
                        }
                    }
                    else if (startedAfterKill)
                    {
                        Interlocked.CompareExchange(ref servedAgainAt, Stopwatch.GetTimestamp(), 0);
                        if (Interlocked.Increment(ref okAfter) == SteadyRequests)
                        {
                            steady.TrySetResult();
                        }
                    }
                    continue;
                }
                if (stop.IsCancellationRequested)
                {
                    break;
                }
                var servedAgain = Volatile.Read(ref servedAgainAt);
                if (servedAgain != 0 && begun > servedAgain)
                {
                    Interlocked.Increment(ref failedAfter);
                }
                else if (killed != 0)
                {
                    Interlocked.Increment(ref failedWhileDown);
                }
                // Nothing to wait on while the server is gone: retry at a modest rate.
                await Task.Delay(RetryPause, stop.Token).ConfigureAwait(false);
            }
        }, CancellationToken.None)).ToArray();
        string note;
        try
        {
            // The clients are served by the first server before it is killed.
            await warmedUp.Task.WaitAsync(ServeTimeout, ct).ConfigureAwait(false);
            using (var victim = Process.GetProcessById(first.Pid))
            {
                Volatile.Write(ref killedAt, Stopwatch.GetTimestamp());
                victim.Kill(); // SIGKILL
                await victim.WaitForExitAsync(ct).ConfigureAwait(false);
            }
            if (deleteStaleFile)
            {
                address.DeleteSocketFile();
            }
            try
            {
                second = await ServerChecks.StartAsync(context.SampleDll, target, address, ct).ConfigureAwait(false);
                note = "restarted";
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                note = ex.Message.Contains("Address already in use", StringComparison.Ordinal)
                    ? "the new server did not start: bind failed with EADDRINUSE (the killed server's socket file is still there)"
                    : "the new server did not start: " + ServerChecks.Shorten(ex.Message, 200);
            }
            // Steady service by the new server, so that failures after it answered are counted too.
            if (second is not null)
            {
                try
                {
                    await steady.Task.WaitAsync(ServeTimeout, ct).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    note += $", but fewer than {SteadyRequests} requests answered in {ServeTimeout.TotalSeconds:F0} s";
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(clients.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
            if (second is not null)
            {
                await second.DisposeAsync().ConfigureAwait(false);
            }
            await first.DisposeAsync().ConfigureAwait(false);
        }
        double? seconds = servedAgainAt == 0 ? null : (servedAgainAt - killedAt) / (double)Stopwatch.Frequency;
        return new Result(seconds, failedWhileDown, failedAfter, note);
    }

    private static async Task<bool> OneRequestAsync(ServerAddress address, CancellationToken cancellationToken)
    {
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(AttemptTimeout);
            using var socket = address.CreateClientSocket();
            await socket.ConnectAsync(address.EndPoint, deadline.Token).ConfigureAwait(false);
            await socket.SendAsync(Requests.Plaintext, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            return await new HttpResponseReader(SocketType.Stream).ReadAsync(socket, deadline.Token).ConfigureAwait(false) == 200;
        }
        catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException or OperationCanceledException)
        {
            return false;
        }
    }
}
