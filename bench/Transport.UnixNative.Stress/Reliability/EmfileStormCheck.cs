using System.Diagnostics;
using System.Net.Sockets;

namespace Transport.UnixNative.Stress.Reliability;

/// <summary>
/// The EMFILE storm: the server may open only 512 descriptors and 800 clients connect and stay.
/// While it is starved: how much CPU does it burn? After the clients leave: how soon does it
/// serve a new client again, if ever?
/// </summary>
internal sealed class EmfileStormCheck : IReliabilityCheck
{
    private static readonly TimeSpan Starved = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan FillTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan RecoverTimeout = TimeSpan.FromSeconds(15);

    public string Name => "emfile";

    public async Task RunAsync(CheckContext context, int index)
    {
        var (clients, limit, episodes) = (context.Options.StormClients, context.Options.StormFileLimit, context.Options.StormEpisodes);
        var runs = new Dictionary<Target, List<Result>>();
        foreach (var target in context.Order(index))
        {
            runs[target] = [];
            for (var episode = 1; episode <= episodes; episode++)
            {
                context.Progress($"emfile: {target.Label} under RLIMIT_NOFILE {limit}, {clients} clients, episode {episode} of {episodes} (a fresh server each)");
                var result = await EpisodeAsync(context, target, clients, limit).ConfigureAwait(false);
                runs[target].Add(result);
                context.Progress($"emfile: {target.Label}: CPU {result.CpuShare?.ToString("F2", System.Globalization.CultureInfo.InvariantCulture) ?? "–"} core while starved, {result.Answered} answered, recovered {Show.Seconds(result.RecoveredSeconds)}; {result.Errors}");
            }
        }

        var targets = context.Targets;
        var report = context.Report;
        var check = $"EMFILE storm: RLIMIT_NOFILE {limit}, {Show.Count(clients)} clients, {episodes} episode(s)";
        string Each(Target t, Func<Result, string> cell) => string.Join(", ", runs[t].Select(cell));
        report.Add(check, $"server CPU while starved ({Starved.TotalSeconds:F0} s window; target < 0.05)",
            t => Each(t, r => (r.CpuShare is { } share ? Show.Share(share) : "– (**exited**)") + (r.Filled ? "" : " (never starved)")), targets,
            "One value per episode, each on a fresh server. Starved: the server's descriptor count has stopped growing (1 s unchanged) near its limit, or reached it less 16, while clients still wait in the backlog.");
        report.Add(check, "clients answered while starved / refused at connect", t => Each(t, r => $"{Show.Count(r.Answered)} / {Show.Count(r.Refused)}"), targets);
        report.Add(check, "seconds until a new client is served after they leave", t => Each(t, r => r.RecoveredSeconds is { } s ? Show.Seconds(s) : "**never**"), targets,
            $"\"never\": no answer within {RecoverTimeout.TotalSeconds:F0} s.");
        report.Add(check, "server descriptors while starved", t => Each(t, r => r.FdsStarved < 0 ? "–" : Show.Count(r.FdsStarved)), targets);
        report.Add(check, "log entries (warn, fail, crit) during the storm and its recovery", t => Each(t, r => Show.Count(r.ErrorLogs)), targets);
        report.Add(check, "episodes after which it still accepts", t => Show.OutOf(runs[t].Count(r => r.RecoveredSeconds is not null), runs[t].Count)
            + (runs[t].Count(r => !r.Alive) is > 0 and var dead ? $" (process exited in {dead})" : ""), targets,
            ServerChecks.PerTarget(targets, t => (runs[t].FirstOrDefault(r => !r.Alive) ?? runs[t].FirstOrDefault(r => r.ErrorLogs > 0) ?? runs[t][0]).Errors));
    }

    private static async Task<Result> EpisodeAsync(CheckContext context, Target target, int clients, int limit)
    {
        var address = Addresses.Stream();
        await using var server = await ServerChecks.StartAsync(context.SampleDll, target, address, context.CancellationToken, fileLimit: limit).ConfigureAwait(false);
        var ct = context.CancellationToken;
        var sockets = new List<Socket>(clients);
        Result result;
        try
        {
            var answered = 0;
            var refused = 0;
            var pending = new List<Task>(clients);
            for (var i = 0; i < clients; i++)
            {
                var socket = address.CreateClientSocket();
                sockets.Add(socket);
                pending.Add(Task.Run(async () =>
                {
                    try
                    {
                        await socket.ConnectAsync(address.EndPoint, ct).ConfigureAwait(false);
                        await socket.SendAsync(Requests.Plaintext, SocketFlags.None, ct).ConfigureAwait(false);
                        if (await new HttpResponseReader(SocketType.Stream).ReadAsync(socket, ct).ConfigureAwait(false) == 200)
                        {
                            Interlocked.Increment(ref answered);
                        }
                    }
                    catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException or ObjectDisposedException or OperationCanceledException)
                    {
                        // Refused by a full backlog, or closed by us when the clients leave.
                        if (ex is SocketException)
                        {
                            Interlocked.Increment(ref refused);
                        }
                    }
                }, CancellationToken.None));
            }
            // Starved once the server holds (nearly) all its descriptors.
            var logsBefore = LogEntries(server);
            var filled = await WaitUntilStarvedAsync(server, limit, ct).ConfigureAwait(false);
            var fdsStarved = server.FdCount();
            var cpuBefore = server.TrySample()?.CpuSeconds;
            var wall = Stopwatch.GetTimestamp();
            await Task.Delay(Starved, ct).ConfigureAwait(false); // the measured window
            var share = server.TrySample()?.CpuSeconds - cpuBefore is { } used ? used / Stopwatch.GetElapsedTime(wall).TotalSeconds : (double?)null;
            var answeredWhileStarved = Volatile.Read(ref answered);
            var refusedWhileStarved = Volatile.Read(ref refused);

            // The clients leave.
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
            await Task.WhenAll(pending).ConfigureAwait(false);
            var recovered = await ServerChecks.SecondsUntilServesAsync(address, RecoverTimeout, ct).ConfigureAwait(false);
            result = new Result(filled, fdsStarved, share, answeredWhileStarved, refusedWhileStarved, recovered, server.IsAlive(), LogEntries(server) - logsBefore, server.ErrorSummary());
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
        return result;
    }

    /// <summary>
    /// Until the server holds its limit less 16 descriptors, or its count has not grown for a second
    /// past half the limit (a transport may keep a few in reserve): then accept4 is failing.
    /// </summary>
    private static async Task<bool> WaitUntilStarvedAsync(ServerProcess server, int limit, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var (last, since) = (-1, Stopwatch.GetTimestamp());
        while (Stopwatch.GetElapsedTime(start) < FillTimeout)
        {
            var now = server.FdCount();
            if (now < 0)
            {
                return false;
            }
            if (now >= limit - 16)
            {
                return true;
            }
            if (now != last)
            {
                (last, since) = (now, Stopwatch.GetTimestamp());
            }
            else if (now > limit / 2 && Stopwatch.GetElapsedTime(since) >= TimeSpan.FromSeconds(1))
            {
                return true;
            }
            // The count changes inside the server: nothing to wait on but /proc.
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
        return false;
    }

    /// <summary>Console-logger entries at Warning and above so far (the server logs at Warning).</summary>
    private static int LogEntries(ServerProcess server)
        => server.Output.Split('\n').Count(l => l.StartsWith("warn:", StringComparison.Ordinal) || l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal));

    private sealed record Result(bool Filled, int FdsStarved, double? CpuShare, int Answered, int Refused, double? RecoveredSeconds, bool Alive, int ErrorLogs, string Errors);
}
