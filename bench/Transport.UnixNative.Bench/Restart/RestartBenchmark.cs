using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Bench.Macro;
using Transport.UnixNative.Bench.Native;

namespace Transport.UnixNative.Bench.Restart;

/// <summary>
/// A restart of the sample under a load of new connections (one every 2 ms, each GET /process with
/// Connection: close): a hand-over (--handover) against a plain SIGTERM-and-start, alternating,
/// several rounds. Reports, for the swap window, requests, failures and latency (p50, p99, max).
/// </summary>
internal static class RestartBenchmark
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(2);

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        var rounds = args.SkipWhile(a => a != "--rounds").Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault(3);
        var layout = await SampleBuild.LocateSampleAsync(null, !args.Contains("--no-build"), Console.Out, CancellationToken.None).ConfigureAwait(false);
        Console.WriteLine($"restart under load: a new connection every {Interval.TotalMilliseconds} ms, {rounds} round(s) each, alternating; {Environment.ProcessorCount} cores");
        var results = new List<(string Kind, Window Swap)>();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var handover in round % 2 == 0 ? new[] { true, false } : [false, true])
            {
                var swap = await MeasureAsync(layout.Dll, handover).ConfigureAwait(false);
                results.Add((handover ? "hand-over" : "stop-and-start", swap));
                Console.WriteLine($"  round {round + 1} {(handover ? "hand-over" : "stop-and-start"),-15} {swap}");
            }
        }
        Console.WriteLine();
        Console.WriteLine("| restart | swap window ms (median) | requests in it | failed | p50 ms | p99 ms | longest ms |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var group in results.GroupBy(r => r.Kind))
        {
            var w = group.Select(g => g.Swap).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key} | {Median(w.Select(x => x.Duration.TotalMilliseconds)):F0} | {w.Sum(x => x.Requests)} | {w.Sum(x => x.Failed)} | {Median(w.Select(x => x.P50)):F1} | {Median(w.Select(x => x.P99)):F1} | {w.Max(x => x.Longest):F1} |"));
        }
        return 0;
    }

    private static double Median(IEnumerable<double> values) => Statistics.Median(values) ?? 0;

    private static async Task<Window> MeasureAsync(string dll, bool handover)
    {
        var dir = Directory.CreateTempSubdirectory("un-rs-").FullName;
        var socket = Path.Combine(dir, "s.sock");
        var control = Path.Combine(dir, "h.ctl");
        string[] arguments = handover ? ["--urls", $"http://unix:{socket}", "--handover", control] : ["--urls", $"http://unix:{socket}"];
        var first = StartSample(dll, dir, arguments);
        ChildProcess? second = null;
        var load = new Load(socket);
        try
        {
            await first.WaitForAsync(handover ? "listening for a successor" : "Application started").ConfigureAwait(false);
            load.Start();
            await load.UntilAsync(() => load.Answered >= 200).ConfigureAwait(false);
            var start = load.Now;
            if (!handover)
            {
                _ = BenchNative.kill(first.Pid, 15);
                await first.ExitAsync().ConfigureAwait(false);
            }
            second = StartSample(dll, dir, arguments);
            await second.WaitForAsync(handover ? "this process serves alone" : "Application started").ConfigureAwait(false);
            if (handover)
            {
                await first.ExitAsync().ConfigureAwait(false);
            }
            var end = load.Now;
            var answered = load.Answered;
            await load.UntilAsync(() => load.Answered >= answered + 200).ConfigureAwait(false);
            await load.StopAsync().ConfigureAwait(false);
            return load.WindowOf(start, end);
        }
        finally
        {
            await load.StopAsync().ConfigureAwait(false);
            first.Dispose();
            second?.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    internal sealed record Window(TimeSpan Duration, int Requests, int Failed, double P50, double P99, double Longest, string Errors)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"swap {Duration.TotalMilliseconds:F0} ms: {Requests} requests, {Failed} failed{(Failed > 0 ? $" ({Errors})" : "")}, p50 {P50:F1} ms, p99 {P99:F1} ms, longest {Longest:F1} ms");
    }

    private static ChildProcess StartSample(string dll, string home, string[] arguments)
    {
        var info = ChildProcess.Dotnet(dll, arguments);
        info.WorkingDirectory = home;
        info.Environment["HOME"] = home;
        return ChildProcess.Start(info);
    }

    /// <summary>New connections at a steady pace (at most 64 in flight), each one request.</summary>
    private sealed class Load(string socket)
    {
        private readonly ConcurrentQueue<(TimeSpan Start, TimeSpan Latency, string? Error)> _results = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly SemaphoreSlim _inFlight = new(64);
        private Task _run = Task.CompletedTask;
        private int _answered;

        public TimeSpan Now => _clock.Elapsed;

        public int Answered => Volatile.Read(ref _answered);

        public void Start() => _run = Task.Run(RunAsync);

        private async Task RunAsync()
        {
            var requests = new List<Task>();
            using var timer = new PeriodicTimer(Interval);
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                {
                    await _inFlight.WaitAsync(_stop.Token).ConfigureAwait(false);
                    requests.Add(OneAsync());
                }
            }
            catch (OperationCanceledException)
            {
            }
            await Task.WhenAll(requests).ConfigureAwait(false);
        }

        private async Task OneAsync()
        {
            var start = _clock.Elapsed;
            string? error = null;
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), timeout.Token).ConfigureAwait(false);
                await s.SendAsync("GET /process HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"u8.ToArray(), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                var response = new StringBuilder();
                var buffer = new byte[4096];
                int n;
                while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false)) > 0)
                {
                    response.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }
                if (!response.ToString().StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
                {
                    error = response.Length == 0 ? "no answer" : "status";
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
            {
                error = ex is SocketException se ? se.SocketErrorCode.ToString() : ex.GetType().Name;
            }
            finally
            {
                _inFlight.Release();
            }
            _results.Enqueue((start, _clock.Elapsed - start, error));
            if (error is null)
            {
                Interlocked.Increment(ref _answered);
            }
        }

        public async Task UntilAsync(Func<bool> condition)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!condition())
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException("the load made no progress");
                }
                await Task.Delay(10).ConfigureAwait(false);
            }
        }

        public async Task StopAsync()
        {
            _stop.Cancel();
            await _run.WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        }

        public Window WindowOf(TimeSpan from, TimeSpan to)
        {
            var window = _results.Where(r => r.Start >= from && r.Start < to).ToArray();
            var latencies = window.Where(r => r.Error is null).Select(r => r.Latency.TotalMilliseconds).Order().ToArray();
            double Percentile(double p) => latencies.Length == 0 ? 0 : latencies[Math.Min(latencies.Length - 1, (int)(p * latencies.Length))];
            var errors = string.Join(", ", window.Where(r => r.Error is not null).GroupBy(r => r.Error).Select(g => $"{g.Key}×{g.Count()}"));
            return new Window(to - from, window.Length, window.Count(r => r.Error is not null), Percentile(0.5), Percentile(0.99),
                window.Length == 0 ? 0 : window.Max(r => r.Latency.TotalMilliseconds), errors);
        }
    }
}
