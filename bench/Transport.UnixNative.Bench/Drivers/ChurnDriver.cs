using System.Buffers.Text;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Bench.Macro;

namespace Transport.UnixNative.Bench.Drivers;

/// <summary>
/// Connection churn: every request on a new connection (<c>Connection: close</c>), read to EOF,
/// closed. h2load cannot reconnect, so this is ours. Latency is connect-to-EOF.
/// </summary>
internal static class ChurnDriver
{
    private const int StatusPrefix = 12;

    public static async Task<DriverResult> RunAsync(ServerAddress address, string path, int workers, TimeSpan duration, CancellationToken cancellationToken)
    {
        var request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var perWorker = await Task.WhenAll(Enumerable.Range(0, workers)
            .Select(_ => Task.Run(() => WorkAsync(address, request, deadline, cancellationToken), cancellationToken))).ConfigureAwait(false);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var completed = perWorker.Sum(w => (long)w.Ticks.Count);
        if (completed == 0)
        {
            throw new IOException($"no connection completed a request: {perWorker.Select(w => w.FirstError).FirstOrDefault(e => e is not null)}");
        }
        return new DriverResult(
            completed,
            perWorker.Sum(w => w.Errors),
            seconds,
            LatencySummary.FromStopwatchTicks(perWorker.Select(w => w.Ticks)),
            perWorker.Select(w => w.FirstError).FirstOrDefault(e => e is not null));
    }

    private static async Task<(List<long> Ticks, long Errors, string? FirstError)> WorkAsync(ServerAddress address, byte[] request, long deadline, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var ticks = new List<long>(1 << 14);
        long errors = 0;
        string? firstError = null;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var begin = Stopwatch.GetTimestamp();
            try
            {
                using var socket = address.CreateClientSocket();
                await socket.ConnectAsync(address.EndPoint, cancellationToken).ConfigureAwait(false);
                await socket.SendAsync(request, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                // Read to EOF: the server closes after the response. Bytes 0..11 keep the status line's
                // start ("HTTP/1.1 200"); everything after it is overwritten, only its arrival matters.
                int total = 0, n;
                while ((n = await socket.ReceiveAsync(buffer.AsMemory(Math.Min(total, StatusPrefix)), SocketFlags.None, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    total += n;
                }
                var status = 0;
                if (total < StatusPrefix || !buffer.AsSpan().StartsWith("HTTP/1.1 "u8) || !Utf8Parser.TryParse(buffer.AsSpan(9, 3), out status, out _) || status != 200)
                {
                    throw new InvalidDataException(total == 0 ? "the server closed the connection without a response" : $"not a 200 response (status {status})");
                }
                ticks.Add(Stopwatch.GetTimestamp() - begin);
            }
            catch (Exception ex) when (ex is SocketException or InvalidDataException)
            {
                errors++;
                firstError ??= ex.Message;
            }
        }
        return (ticks, errors, firstError);
    }
}
