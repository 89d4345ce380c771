using System.Net.Sockets;

namespace Transport.UnixNative.Bench.Common;

/// <summary>One real request to a starting server: it is ready when it answers, not when its socket exists.</summary>
internal static class ReadinessProbe
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    // The client connection preface and an empty SETTINGS frame (RFC 9113 §3.4).
    private static readonly byte[] Http2Preface = [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, 0, 0, 0, 4, 0, 0, 0, 0, 0];

    public static async Task AnswerAsync(ServerAddress address, bool http2, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        using var socket = address.CreateClientSocket();
        await socket.ConnectAsync(address.EndPoint, timeout.Token).ConfigureAwait(false);
        if (http2)
        {
            await socket.SendAsync(Http2Preface, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            // The server's preface is a SETTINGS frame: 9-byte header whose fourth byte is type 4.
            var head = new byte[9];
            var read = 0;
            while (read < head.Length)
            {
                var n = await socket.ReceiveAsync(head.AsMemory(read), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new InvalidDataException("the server closed the connection instead of sending its HTTP/2 preface");
                }
                read += n;
            }
            if (head[3] != 4)
            {
                throw new InvalidDataException($"the server's first HTTP/2 frame has type {head[3]}, not SETTINGS");
            }
            return;
        }
        await socket.SendAsync("GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray(), SocketFlags.None, timeout.Token).ConfigureAwait(false);
        var status = await new HttpResponseReader(socket.SocketType).ReadAsync(socket, timeout.Token).ConfigureAwait(false);
        if (status != 200)
        {
            throw new InvalidDataException($"GET /plaintext answered {status}");
        }
    }
}
