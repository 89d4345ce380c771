using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Transport.UnixNative.Bench.Common;

/// <summary>
/// Many keep-alive connections held open after one request each, so the server holds a live
/// (but idle) HTTP/1.1 connection for every one of them.
/// </summary>
internal sealed class IdleConnections : IDisposable
{
    private const int OpenParallelism = 64;

    private readonly Socket?[] _sockets;

    private IdleConnections(Socket?[] sockets, double openSeconds)
    {
        _sockets = sockets;
        OpenSeconds = openSeconds;
    }

    public int Count => _sockets.Length;

    /// <summary>How long it took to connect all of them and get every first response.</summary>
    public double OpenSeconds { get; }

    public static async Task<IdleConnections> OpenAsync(ServerAddress address, string path, int count, CancellationToken cancellationToken)
    {
        var request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var sockets = new Socket?[count];
        var start = Stopwatch.GetTimestamp();
        try
        {
            var options = new ParallelOptions { MaxDegreeOfParallelism = OpenParallelism, CancellationToken = cancellationToken };
            await Parallel.ForEachAsync(Enumerable.Range(0, count), options, async (i, token) =>
            {
                var socket = sockets[i] = address.CreateClientSocket();
                await socket.ConnectAsync(address.EndPoint, token).ConfigureAwait(false);
                await socket.SendAsync(request, SocketFlags.None, token).ConfigureAwait(false);
                var status = await new HttpResponseReader(socket.SocketType).ReadAsync(socket, token).ConfigureAwait(false);
                if (status != 200)
                {
                    throw new InvalidDataException($"connection {i}: GET {path} answered {status}");
                }
            }).ConfigureAwait(false);
        }
        catch
        {
            new IdleConnections(sockets, 0).Dispose();
            throw;
        }
        return new IdleConnections(sockets, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    public void Dispose()
    {
        foreach (var socket in _sockets)
        {
            socket?.Dispose();
        }
    }
}
