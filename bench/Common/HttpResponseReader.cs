using System.Buffers.Text;
using System.Net.Sockets;
using System.Text;

namespace Transport.UnixNative.Bench.Common;

/// <summary>
/// Reads HTTP/1.1 responses with a Content-Length off one connection, keeping any bytes that
/// belong to the next response. Works on stream and seqpacket sockets alike: it always leaves
/// room for a whole packet, so a seqpacket receive is never truncated.
/// </summary>
internal sealed class HttpResponseReader
{
    // The transport cuts seqpacket output into packets of at most 64 KiB (SeqpacketLimits.SendPacketSize).
    private const int MaxPacket = 64 * 1024;

    private static ReadOnlySpan<byte> HeaderEnd => "\r\n\r\n"u8;
    private static ReadOnlySpan<byte> ContentLength => "content-length:"u8;

    private readonly byte[] _buffer;
    private readonly int _minimumFree;
    private int _start;
    private int _end;

    public HttpResponseReader(SocketType socketType)
    {
        _minimumFree = socketType == SocketType.Seqpacket ? MaxPacket : 1;
        _buffer = GC.AllocateUninitializedArray<byte>(socketType == SocketType.Seqpacket ? 2 * MaxPacket : 4096);
    }

    /// <summary>Reads one whole response and returns its status code.</summary>
    public async ValueTask<int> ReadAsync(Socket socket, CancellationToken cancellationToken)
    {
        int headerLength;
        while ((headerLength = _buffer.AsSpan(_start, _end - _start).IndexOf(HeaderEnd)) < 0)
        {
            await FillAsync(socket, cancellationToken).ConfigureAwait(false);
        }
        var (status, bodyLength) = ParseHead(_buffer.AsSpan(_start, headerLength));
        _start += headerLength + HeaderEnd.Length;

        var remaining = bodyLength;
        while (true)
        {
            var take = (int)Math.Min(remaining, _end - _start);
            _start += take;
            remaining -= take;
            if (remaining == 0)
            {
                return status;
            }
            await FillAsync(socket, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask FillAsync(Socket socket, CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_buffer.Length - _end < _minimumFree)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_buffer.Length - _end < _minimumFree)
        {
            throw new InvalidDataException($"a response head longer than {_buffer.Length - _minimumFree} bytes");
        }
        var n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        if (n == 0)
        {
            throw new EndOfStreamException("the server closed the connection in the middle of a response");
        }
        _end += n;
    }

    /// <summary>The status code and Content-Length of a response head (without its final blank line).</summary>
    public static (int Status, long ContentLength) ParseHead(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.1 200 OK"
        if (head.Length < 12 || !head.StartsWith("HTTP/1."u8) || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out _))
        {
            throw new InvalidDataException($"not an HTTP/1.x status line: '{Encoding.ASCII.GetString(head[..Math.Min(head.Length, 40)])}'");
        }
        long? length = null;
        foreach (var range in head.Split("\r\n"u8))
        {
            var line = head[range];
            if (line.Length > ContentLength.Length && Ascii.EqualsIgnoreCase(line[..ContentLength.Length], ContentLength))
            {
                if (!Utf8Parser.TryParse(line[ContentLength.Length..].Trim((byte)' '), out long value, out _))
                {
                    throw new InvalidDataException("a Content-Length that is not a number");
                }
                length = value;
            }
        }
        return (status, length ?? throw new InvalidDataException($"a {status} response without Content-Length (this reader does not parse chunked bodies)"));
    }
}
