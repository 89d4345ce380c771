using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Bench.Macro;

namespace Transport.UnixNative.Bench.Drivers;

/// <summary>
/// Keep-alive HTTP/1.1 load: each connection sends one request, reads the whole response, repeats.
/// Unlike h2load it speaks over SOCK_SEQPACKET too (one request per packet), so stream and
/// seqpacket are compared with the very same client.
/// </summary>
internal static class RequestLoopDriver
{
    public static async Task<DriverResult> RunAsync(ServerAddress address, string path, int connections, TimeSpan duration, CancellationToken cancellationToken)
    {
        var request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var sockets = new List<Socket>(connections);
        try
        {
            for (var i = 0; i < connections; i++)
            {
                var socket = address.CreateClientSocket();
                sockets.Add(socket);
                await socket.ConnectAsync(address.EndPoint, cancellationToken).ConfigureAwait(false);
            }
            var start = Stopwatch.GetTimestamp();
            var deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            var perConnection = await Task.WhenAll(sockets.Select(s => Task.Run(() => LoopAsync(s, request, deadline, cancellationToken), cancellationToken))).ConfigureAwait(false);
            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var errors = perConnection.Sum(c => c.Errors);
            return new DriverResult(
                perConnection.Sum(c => (long)c.Ticks.Count) - errors,
                errors,
                seconds,
                LatencySummary.FromStopwatchTicks(perConnection.Select(c => c.Ticks)),
                perConnection.Select(c => c.FirstError).FirstOrDefault(e => e is not null));
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private static async Task<(List<long> Ticks, long Errors, string? FirstError)> LoopAsync(Socket socket, byte[] request, long deadline, CancellationToken cancellationToken)
    {
        var reader = new HttpResponseReader(socket.SocketType);
        var ticks = new List<long>(1 << 16);
        long errors = 0;
        string? firstError = null;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var sent = Stopwatch.GetTimestamp();
            await socket.SendAsync(request, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            var status = await reader.ReadAsync(socket, cancellationToken).ConfigureAwait(false);
            ticks.Add(Stopwatch.GetTimestamp() - sent);
            if (status != 200)
            {
                errors++;
                firstError ??= $"status {status}";
            }
        }
        return (ticks, errors, firstError);
    }
}
