using System.Net;
using System.Net.Sockets;

namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>Where a test server listens: a path or <c>@name</c>, stream or seqpacket.</summary>
public sealed record ServerAddress(string Address, bool IsSeqpacket = false)
{
    public bool IsAbstract => Address.StartsWith('@');

    /// <summary>The runtime's endpoint: an abstract name needs the leading NUL (<c>"@x"</c> would be a file named <c>@x</c>).</summary>
    public UnixDomainSocketEndPoint EndPoint => IsAbstract ? new UnixDomainSocketEndPoint("\0" + Address[1..]) : new UnixDomainSocketEndPoint(Address);

    public override string ToString() => (IsSeqpacket ? "seqpacket:" : "stream:") + Address;
}

/// <summary>Test-local clients: plain System.Net.Sockets, so the server is checked against the runtime's socket code, not our own.</summary>
internal static class UnixClient
{
    public static async Task<Socket> ConnectSocketAsync(ServerAddress address, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.Unix, address.IsSeqpacket ? SocketType.Seqpacket : SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(address.EndPoint, cancellationToken).AsTask().DefaultTimeout();
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A stream over a new connection; the stream owns the socket.</summary>
    public static async Task<Stream> ConnectAsync(ServerAddress address, CancellationToken cancellationToken = default)
    {
        var socket = await ConnectSocketAsync(address, cancellationToken);
        return address.IsSeqpacket ? new SeqpacketStream(socket) : new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>An HttpClient whose every connection is a unix socket to <paramref name="address"/> (a tiny ConnectCallback).</summary>
    public static HttpClient CreateHttpClient(ServerAddress address, int maxConnections = int.MaxValue)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = maxConnections,
            ConnectCallback = async (_, cancellationToken) => await ConnectAsync(address, cancellationToken),
        };
        return new HttpClient(handler) { BaseAddress = new Uri("http://localhost/"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public static HttpClient CreateTcpClient(Uri baseAddress) => new() { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
}

/// <summary>
/// A byte stream over a SOCK_SEQPACKET socket (NetworkStream accepts only SOCK_STREAM). Reads take one
/// whole packet into a 256 KiB buffer, so a packet is never truncated; writes send at most 64 KiB per packet.
/// </summary>
internal sealed class SeqpacketStream(Socket socket) : Stream
{
    public const int ReceiveBufferSize = 256 * 1024;
    public const int MaxPacket = 64 * 1024;

    private readonly byte[] _packet = new byte[ReceiveBufferSize];
    private int _offset;
    private int _count;

    public Socket Socket { get; } = socket;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_count == 0)
        {
            var n = await Socket.ReceiveAsync(_packet, SocketFlags.None, cancellationToken);
            if (n == _packet.Length)
            {
                // A packet that fills the whole buffer may have been cut: the server must never send one.
                throw new IOException($"A seqpacket packet of {n} bytes or more arrived; it may have been truncated.");
            }
            _offset = 0;
            _count = n;
            if (n == 0)
            {
                return 0;
            }
        }
        var take = Math.Min(_count, buffer.Length);
        _packet.AsMemory(_offset, take).CopyTo(buffer);
        _offset += take;
        _count -= take;
        return take;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, default).GetAwaiter().GetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var chunk = buffer[..Math.Min(buffer.Length, MaxPacket)];
            var sent = await Socket.SendAsync(chunk, SocketFlags.None, cancellationToken);
            if (sent != chunk.Length)
            {
                throw new IOException($"A seqpacket send wrote {sent} of {chunk.Length} bytes.");
            }
            buffer = buffer[chunk.Length..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, default).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Socket.Dispose();
        }
        base.Dispose(disposing);
    }
}

internal static class StreamSocketExtensions
{
    /// <summary>The socket under a test client stream.</summary>
    public static Socket Socket(this Stream stream) => stream switch
    {
        NetworkStream network => network.Socket,
        SeqpacketStream packet => packet.Socket,
        _ => throw new ArgumentException($"{stream.GetType().Name} has no socket."),
    };
}
