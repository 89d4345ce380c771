using System.Diagnostics;
using System.Net.Sockets;
using Transport.UnixNative.Bench.Native;

namespace Transport.UnixNative.Stress.Reliability;

/// <summary>
/// Slow clients against Kestrel's own limits, set short: a reader that never reads a 50 MB
/// response (MinResponseDataRate), a writer that trickles its head or its body a byte a second
/// (RequestHeadersTimeout, MinRequestBodyDataRate) and a connection left idle (KeepAliveTimeout).
/// The limits are Kestrel's; the transport must let them work. Reported: seconds until the server cut.
/// </summary>
internal sealed class SlowClientsCheck : IReliabilityCheck
{
    private static readonly TimeSpan GiveUp = TimeSpan.FromSeconds(40);

    private static readonly string[] Limits =
    [
        "--Kestrel:Limits:KeepAliveTimeout=00:00:03",
        "--Kestrel:Limits:RequestHeadersTimeout=00:00:03",
        "--Kestrel:Limits:MinRequestBodyDataRate:BytesPerSecond=240",
        "--Kestrel:Limits:MinRequestBodyDataRate:GracePeriod=00:00:03",
        "--Kestrel:Limits:MinResponseDataRate:BytesPerSecond=65536",
        "--Kestrel:Limits:MinResponseDataRate:GracePeriod=00:00:03",
    ];

    public string Name => "slow";

    public async Task RunAsync(CheckContext context, int index)
    {
        var results = new Dictionary<Target, (Cut Reader, Cut Headers, Cut Body, Cut Idle, string Errors)>();
        foreach (var target in context.Order(index))
        {
            context.Progress($"slow: {target.Label}, four slow clients at once (up to {GiveUp.TotalSeconds:F0} s)");
            var address = Addresses.Stream();
            await using var server = await ServerChecks.StartAsync(context.SampleDll, target, address, context.CancellationToken, extraArgs: Limits).ConfigureAwait(false);
            var ct = context.CancellationToken;
            var reader = NonReaderAsync(address, ct);
            var headers = TrickleAsync(address, "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nX-Slow: "u8.ToArray(), ct);
            var body = TrickleAsync(address, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n"u8.ToArray(), ct);
            var idle = IdleAsync(address, ct);
            await Task.WhenAll(reader, headers, body, idle).ConfigureAwait(false);
            results[target] = (await reader.ConfigureAwait(false), await headers.ConfigureAwait(false), await body.ConfigureAwait(false), await idle.ConfigureAwait(false), server.ErrorSummary());
            context.Progress($"slow: {target.Label}: reader {Show.Seconds(results[target].Reader.Seconds)}, head {Show.Seconds(results[target].Headers.Seconds)}, body {Show.Seconds(results[target].Body.Seconds)}, idle {Show.Seconds(results[target].Idle.Seconds)}");
        }

        var targets = context.Targets;
        var report = context.Report;
        const string check = "slow clients: seconds until the server cut";
        string Cell(Cut cut) => cut.Seconds is { } s ? Show.Seconds(s) + (cut.Status is { } status and not 200 ? $" ({status})" : "") : $"**not cut** in {GiveUp.TotalSeconds:F0} s";
        report.Add(check, "never reads GET /bytes/52428800 (MinResponseDataRate 64 KiB/s, grace 3 s)", t => Cell(results[t].Reader), targets,
            "Kestrel's limits set short on the server's command line: " + string.Join(" ", Limits) + ". Kestrel checks them once a second.");
        report.Add(check, "trickles its head, 1 byte/s (RequestHeadersTimeout 3 s)", t => Cell(results[t].Headers), targets);
        report.Add(check, "trickles its body, 1 byte/s (MinRequestBodyDataRate 240 B/s, grace 3 s)", t => Cell(results[t].Body), targets);
        report.Add(check, "idle after one response (KeepAliveTimeout 3 s)", t => Cell(results[t].Idle), targets,
            ServerChecks.PerTarget(targets, t => results[t].Errors) + " (an error here is the handler's write failing once the connection is cut)");
    }

    /// <summary>When the server ended the connection (null: it did not), and the status it answered, if any.</summary>
    private sealed record Cut(double? Seconds, int? Status);

    private static async Task<Cut> NonReaderAsync(ServerAddress address, CancellationToken cancellationToken)
    {
        using var socket = address.CreateClientSocket();
        await socket.ConnectAsync(address.EndPoint, cancellationToken).ConfigureAwait(false);
        await socket.SendAsync("GET /bytes/52428800 HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray(), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        var start = Stopwatch.GetTimestamp();
        // poll(POLLRDHUP) learns of the close without reading a byte of the response.
        var cut = await Task.Factory.StartNew(() => BenchNative.WaitForHangUp(socket.Handle, GiveUp), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        return new Cut(cut ? Stopwatch.GetElapsedTime(start).TotalSeconds : null, null);
    }

    private static async Task<Cut> TrickleAsync(ServerAddress address, byte[] head, CancellationToken cancellationToken)
    {
        using var socket = address.CreateClientSocket();
        await socket.ConnectAsync(address.EndPoint, cancellationToken).ConfigureAwait(false);
        await socket.SendAsync(head, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        var start = Stopwatch.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var read = ReadUntilClosedAsync(socket, stop.Token);
        var trickle = Task.Run(async () =>
        {
            // The client's own pace, not a wait for the server: one byte, then a second's pause.
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await socket.SendAsync("a"u8.ToArray(), SocketFlags.None, stop.Token).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(1), stop.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                // Cut (EPIPE/ECONNRESET) or done.
            }
        }, CancellationToken.None);
        var winner = await Task.WhenAny(read, Task.Delay(GiveUp, cancellationToken)).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        await stop.CancelAsync().ConfigureAwait(false);
        await trickle.ConfigureAwait(false);
        return winner == read ? new Cut(elapsed, await read.ConfigureAwait(false)) : new Cut(null, null);
    }

    private static async Task<Cut> IdleAsync(ServerAddress address, CancellationToken cancellationToken)
    {
        using var socket = address.CreateClientSocket();
        await socket.ConnectAsync(address.EndPoint, cancellationToken).ConfigureAwait(false);
        await socket.SendAsync(Requests.Plaintext, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        var status = await new HttpResponseReader(SocketType.Stream).ReadAsync(socket, cancellationToken).ConfigureAwait(false);
        var start = Stopwatch.GetTimestamp();
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        giveUp.CancelAfter(GiveUp);
        try
        {
            await ReadUntilClosedAsync(socket, giveUp.Token).ConfigureAwait(false);
            return new Cut(Stopwatch.GetElapsedTime(start).TotalSeconds, status == 200 ? null : status);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Cut(null, null);
        }
    }

    /// <summary>Reads until EOF or reset; returns the status of a response seen on the way (e.g. 408), if any.</summary>
    private static async Task<int?> ReadUntilClosedAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        int? status = null;
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (status is null && n >= 12 && buffer.AsSpan().StartsWith("HTTP/1.1 "u8) && System.Buffers.Text.Utf8Parser.TryParse(buffer.AsSpan(9, 3), out int s, out _))
                {
                    status = s;
                }
            }
        }
        catch (SocketException)
        {
            // Reset: cut all the same.
        }
        return status;
    }
}
