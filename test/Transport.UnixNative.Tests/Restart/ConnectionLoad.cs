using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Transport.UnixNative.Tests.Restart;

/// <summary>One request of the load: when it started, how long it took, which pid answered, or why it failed.</summary>
internal sealed record LoadResult(TimeSpan Start, TimeSpan Latency, int Pid, string? Error);

/// <summary>
/// Clients that each open a new connection, send <c>GET /process</c> with <c>Connection: close</c> and
/// read the answer, one started every <c>interval</c> (at most 64 in flight): a refused, reset or
/// unanswered connection is a failure.
/// </summary>
internal sealed class ConnectionLoad : IAsyncDisposable
{
    private readonly string _socket;
    private readonly TimeSpan _interval;
    private readonly ConcurrentQueue<LoadResult> _results = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly SemaphoreSlim _inFlight = new(64);
    private readonly Task _run;

    public ConnectionLoad(string socket, TimeSpan interval)
    {
        _socket = socket;
        _interval = interval;
        _run = Task.Run(RunAsync);
    }

    public TimeSpan Now => _clock.Elapsed;

    public IReadOnlyCollection<LoadResult> Results => _results.ToArray();

    public int AnsweredBy(int pid) => _results.Count(r => r.Error is null && r.Pid == pid);

    private async Task RunAsync()
    {
        var requests = new List<Task>();
        using var timer = new PeriodicTimer(_interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                await _inFlight.WaitAsync(_stop.Token);
                requests.Add(OneAsync());
            }
        }
        catch (OperationCanceledException)
        {
        }
        await Task.WhenAll(requests);
    }

    private async Task OneAsync()
    {
        var start = _clock.Elapsed;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(_socket), timeout.Token);
            await socket.SendAsync("GET /process HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"u8.ToArray(), SocketFlags.None, timeout.Token);
            var response = new MemoryStream();
            var buffer = new byte[4096];
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                response.Write(buffer, 0, n);
            }
            var text = Encoding.ASCII.GetString(response.ToArray());
            var body = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (!text.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) || body < 0)
            {
                _results.Enqueue(new LoadResult(start, _clock.Elapsed - start, 0, text.Length == 0 ? "closed without an answer" : text.Split('\r')[0]));
                return;
            }
            // The body may come chunked: the JSON object is between the first '{' and the last '}'.
            var json0 = text.IndexOf('{', body);
            using var json = JsonDocument.Parse(text[json0..(text.LastIndexOf('}') + 1)]);
            _results.Enqueue(new LoadResult(start, _clock.Elapsed - start, json.RootElement.GetProperty("pid").GetInt32(), null));
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException or IOException or JsonException)
        {
            _results.Enqueue(new LoadResult(start, _clock.Elapsed - start, 0, exception is SocketException s ? s.SocketErrorCode.ToString() : exception.GetType().Name));
        }
        finally
        {
            _inFlight.Release();
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds for the results so far (checked as they arrive).</summary>
    public async Task UntilAsync(Func<ConnectionLoad, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(this))
        {
            if (DateTime.UtcNow > deadline || _run.IsCompleted)
            {
                throw new TimeoutException($"The load did not reach its condition: {Summary(TimeSpan.Zero, TimeSpan.MaxValue)}");
            }
            await Task.Delay(_interval);
        }
    }

    public async Task StopAsync()
    {
        _stop.Cancel();
        await _run.WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>Requests, failures (with reasons) and the longest latency of those started in [from, to).</summary>
    public string Summary(TimeSpan from, TimeSpan to)
    {
        var window = _results.Where(r => r.Start >= from && r.Start < to).ToArray();
        var failures = window.Where(r => r.Error is not null).GroupBy(r => r.Error).Select(g => $"{g.Key}×{g.Count()}");
        var longest = window.Length == 0 ? 0 : window.Max(r => r.Latency.TotalMilliseconds);
        var byPid = window.Where(r => r.Error is null).GroupBy(r => r.Pid).Select(g => $"pid {g.Key}: {g.Count()}, longest {g.Max(r => r.Latency.TotalMilliseconds):F1} ms");
        return $"{window.Length} requests, {window.Count(r => r.Error is not null)} failed [{string.Join(", ", failures)}], longest {longest:F1} ms ({string.Join("; ", byPid)})";
    }

    public async ValueTask DisposeAsync()
    {
        if (!_run.IsCompleted)
        {
            await StopAsync();
        }
        _stop.Dispose();
    }
}
