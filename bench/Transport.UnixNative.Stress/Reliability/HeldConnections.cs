using System.Net.Sockets;

namespace Transport.UnixNative.Stress.Reliability;

/// <summary>
/// Keep-alive connections that have each had one answered request and stay open; unlike
/// <see cref="IdleConnections"/> a failed connection is counted, not fatal.
/// </summary>
internal sealed class HeldConnections : IDisposable
{
    private const int OpenParallelism = 64;
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(15);

    private readonly List<Socket> _sockets = [];
    private int _failed;

    public int Answered { get; private set; }

    public int Failed => _failed;

    public string? FirstError { get; private set; }

    /// <summary>Opens <paramref name="count"/> more connections, each with one GET /plaintext answered.</summary>
    public async Task AddAsync(ServerAddress address, int count, CancellationToken cancellationToken)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = OpenParallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, count), options, async (_, token) =>
        {
            var socket = address.CreateClientSocket();
            lock (_sockets)
            {
                _sockets.Add(socket);
            }
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
                deadline.CancelAfter(AnswerTimeout);
                await socket.ConnectAsync(address.EndPoint, deadline.Token).ConfigureAwait(false);
                await socket.SendAsync(Requests.Plaintext, SocketFlags.None, deadline.Token).ConfigureAwait(false);
                var status = await new HttpResponseReader(socket.SocketType).ReadAsync(socket, deadline.Token).ConfigureAwait(false);
                if (status != 200)
                {
                    throw new InvalidDataException($"status {status}");
                }
                lock (_sockets)
                {
                    Answered++;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException || (ex is OperationCanceledException && !token.IsCancellationRequested))
            {
                lock (_sockets)
                {
                    _failed++;
                    FirstError ??= ex.Message;
                }
            }
        }).ConfigureAwait(false);
    }

    public void Dispose()
    {
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
            _sockets.Clear();
        }
    }
}
