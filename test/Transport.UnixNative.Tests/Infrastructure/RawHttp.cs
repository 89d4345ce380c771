using System.Globalization;
using System.Text;

namespace Transport.UnixNative.Tests.Infrastructure;

internal sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// A minimal HTTP/1.1 response reader over a raw stream: it keeps bytes that belong to the next
/// response, so pipelined responses can be read one after another.
/// </summary>
internal sealed class RawHttpReader(Stream stream)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    public static byte[] Get(string path, string extraHeaders = "")
        => Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost\r\n{extraHeaders}\r\n");

    /// <summary>The next response, or null when the connection ended cleanly before a response started.</summary>
    public async Task<RawResponse?> ReadResponseAsync(CancellationToken cancellationToken = default)
    {
        var head = await ReadHeadAsync(cancellationToken);
        if (head is null)
        {
            return null;
        }
        var (status, headers) = head.Value;
        byte[] body;
        if (headers.TryGetValue("Content-Length", out var lengthText))
        {
            body = await ReadExactAsync(int.Parse(lengthText, CultureInfo.InvariantCulture), cancellationToken);
        }
        else if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            using var collected = new MemoryStream();
            while (true)
            {
                var sizeLine = await ReadLineAsync(cancellationToken);
                var size = int.Parse(sizeLine.Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    // Trailers (none expected) end with an empty line.
                    while ((await ReadLineAsync(cancellationToken)).Length > 0)
                    {
                    }
                    break;
                }
                collected.Write(await ReadExactAsync(size, cancellationToken));
                await ReadLineAsync(cancellationToken);
            }
            body = collected.ToArray();
        }
        else
        {
            body = [];
        }
        return new RawResponse(status, headers, body);
    }

    /// <summary>The status line and headers of the next response; null when the connection ended before one started.</summary>
    public async Task<(int Status, Dictionary<string, string> Headers)?> ReadHeadAsync(CancellationToken cancellationToken = default)
    {
        int headerEnd;
        while ((headerEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync(cancellationToken))
            {
                if (_end == _start)
                {
                    return null;
                }
                throw new IOException($"The connection ended inside a response head: '{Encoding.ASCII.GetString(_buffer, _start, _end - _start)}'");
            }
        }
        var head = Encoding.ASCII.GetString(_buffer, _start, headerEnd);
        _start += headerEnd + 4;
        var lines = head.Split("\r\n");
        var statusParts = lines[0].Split(' ', 3);
        if (statusParts.Length < 2 || !statusParts[0].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            throw new IOException($"Not an HTTP/1.x status line: '{lines[0]}'");
        }
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        return (int.Parse(statusParts[1], CultureInfo.InvariantCulture), headers);
    }

    /// <summary>Streams exactly <paramref name="length"/> body bytes to <paramref name="consume"/> without keeping them.</summary>
    public async Task ReadBodyAsync(long length, Action<ReadOnlyMemory<byte>> consume, CancellationToken cancellationToken = default)
    {
        var remaining = length;
        while (remaining > 0)
        {
            if (_end == _start && !await FillAsync(cancellationToken))
            {
                throw new IOException($"The connection ended after {length - remaining} of {length} body bytes.");
            }
            var take = (int)Math.Min(remaining, _end - _start);
            consume(_buffer.AsMemory(_start, take));
            _start += take;
            remaining -= take;
        }
    }

    /// <summary>Reads until the peer closes and returns how many bytes came first (0: a clean end right away).</summary>
    public async Task<long> ReadToEndAsync(CancellationToken cancellationToken = default)
    {
        long total = _end - _start;
        _start = _end = 0;
        while (await FillAsync(cancellationToken))
        {
            total += _end - _start;
            _start = _end = 0;
        }
        return total;
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        int lineEnd;
        while ((lineEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
        {
            if (!await FillAsync(cancellationToken))
            {
                throw new IOException("The connection ended inside a chunked body.");
            }
        }
        var line = Encoding.ASCII.GetString(_buffer, _start, lineEnd);
        _start += lineEnd + 2;
        return line;
    }

    private async Task<byte[]> ReadExactAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        var filled = 0;
        while (filled < count)
        {
            if (_end == _start && !await FillAsync(cancellationToken))
            {
                throw new IOException($"The connection ended after {filled} of {count} body bytes.");
            }
            var take = Math.Min(count - filled, _end - _start);
            Buffer.BlockCopy(_buffer, _start, result, filled, take);
            _start += take;
            filled += take;
        }
        return result;
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        var n = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).DefaultTimeout();
        _end += n;
        return n > 0;
    }
}
