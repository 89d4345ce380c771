using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Transport.UnixNative.Client.Internal;

namespace Transport.UnixNative.Client;

/// <summary>
/// A byte stream over a connected <c>SOCK_SEQPACKET</c> unix socket, for protocols such as HTTP that
/// do not care about message boundaries.
/// </summary>
/// <remarks>
/// Reads never lose data: a receive smaller than the packet would truncate it (<c>MSG_TRUNC</c>),
/// so each read first peeks at the next packet's size and, when the caller's buffer is smaller,
/// receives the packet into an internal buffer and hands out the rest on later reads.
/// Writes are split into packets of at most <see cref="MaxPacketSize"/> bytes; an empty write sends
/// nothing (an empty packet would read as end of stream). A zero-byte receive is the end of the stream.
/// </remarks>
public sealed class SeqpacketStream : Stream
{
    /// <summary>The largest packet a write sends: small enough for peers that read 64 KiB at a time
    /// and for several packets to fit in the default socket send buffer (about 208 KiB).</summary>
    public const int MaxPacketSize = Interop.Socket.SeqpacketSendSize;

    private const SocketFlags PeekSize = SocketFlags.Peek | SocketFlags.Truncated;

    private readonly bool _ownsSocket;
    private readonly byte[] _peekByte = new byte[1];
    private byte[]? _packet;
    private int _packetOffset;
    private int _packetCount;
    private bool _disposed;

    /// <summary>Wraps a connected seqpacket socket.</summary>
    /// <param name="socket">A connected socket of type <see cref="SocketType.Seqpacket"/>.</param>
    /// <param name="ownsSocket">Whether disposing the stream closes the socket.</param>
    public SeqpacketStream(Socket socket, bool ownsSocket = true)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.SocketType != SocketType.Seqpacket)
        {
            throw new ArgumentException($"The socket is {socket.SocketType}, not Seqpacket.", nameof(socket));
        }
        if (!socket.Connected)
        {
            throw new IOException("The seqpacket socket is not connected.");
        }
        Socket = socket;
        _ownsSocket = ownsSocket;
    }

    /// <summary>The underlying socket.</summary>
    public Socket Socket { get; }

    /// <inheritdoc/>
    public override bool CanRead => !_disposed;

    /// <inheritdoc/>
    public override bool CanWrite => !_disposed;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_packetCount > 0)
        {
            return CopyFromPacket(buffer);
        }
        try
        {
            if (buffer.IsEmpty)
            {
                return 0;
            }
            var size = Socket.Receive(_peekByte, PeekSize);
            if (size == 0)
            {
                return 0;
            }
            if (size <= buffer.Length)
            {
                return Socket.Receive(buffer, SocketFlags.None);
            }
            var packet = RentPacket(size);
            _packetCount = Socket.Receive(packet.AsSpan(0, size), SocketFlags.None);
            _packetOffset = 0;
            return CopyFromPacket(buffer);
        }
        catch (SocketException e)
        {
            throw ReadFailed(e);
        }
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <inheritdoc/>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_packetCount > 0)
        {
            return ValueTask.FromResult(CopyFromPacket(buffer.Span));
        }
        return ReadPacketAsync(buffer, cancellationToken);
    }

    private async ValueTask<int> ReadPacketAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            if (buffer.IsEmpty)
            {
                // A zero-byte read waits until data (or the end) is there without taking any:
                // SocketsHttpHandler uses it to wait on idle connections without holding a buffer.
                await Socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                return 0;
            }
            // MSG_PEEK|MSG_TRUNC returns the whole packet's length and leaves the packet queued.
            var size = await Socket.ReceiveAsync(_peekByte, PeekSize, cancellationToken).ConfigureAwait(false);
            if (size == 0)
            {
                return 0;
            }
            if (size <= buffer.Length)
            {
                return await Socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            var packet = RentPacket(size);
            _packetCount = await Socket.ReceiveAsync(packet.AsMemory(0, size), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            _packetOffset = 0;
            return CopyFromPacket(buffer.Span);
        }
        catch (SocketException e)
        {
            throw ReadFailed(e);
        }
    }

    // Held only while a packet is partly handed out, so idle connections keep no buffer.
    private byte[] RentPacket(int size) => _packet = ArrayPool<byte>.Shared.Rent(size);

    private int CopyFromPacket(Span<byte> destination)
    {
        var count = Math.Min(destination.Length, _packetCount);
        _packet.AsSpan(_packetOffset, count).CopyTo(destination);
        _packetOffset += count;
        _packetCount -= count;
        if (_packetCount == 0 && _packet is { } drained)
        {
            _packet = null;
            ArrayPool<byte>.Shared.Return(drained);
        }
        return count;
    }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        Write(buffer.AsSpan(offset, count));
    }

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            while (!buffer.IsEmpty)
            {
                var packet = buffer[..Math.Min(buffer.Length, MaxPacketSize)];
                CheckSent(Socket.Send(packet, SocketFlags.None), packet.Length);
                buffer = buffer[packet.Length..];
            }
        }
        catch (SocketException e)
        {
            throw WriteFailed(e);
        }
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <inheritdoc/>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            while (!buffer.IsEmpty)
            {
                var packet = buffer[..Math.Min(buffer.Length, MaxPacketSize)];
                CheckSent(await Socket.SendAsync(packet, SocketFlags.None, cancellationToken).ConfigureAwait(false), packet.Length);
                buffer = buffer[packet.Length..];
            }
        }
        catch (SocketException e)
        {
            throw WriteFailed(e);
        }
    }

    /// <summary>
    /// Writes <paramref name="buffer"/> with <paramref name="descriptors"/> (<c>SCM_RIGHTS</c>) attached to its
    /// first packet. The caller keeps ownership of the descriptors; the peer receives its own copies.
    /// </summary>
    /// <exception cref="ArgumentException">More than 253 descriptors (the kernel's <c>SCM_MAX_FD</c>).</exception>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, IReadOnlyList<SafeHandle> descriptors, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(descriptors);
        if (buffer.IsEmpty)
        {
            throw new ArgumentException("Descriptors need at least one byte to travel with (an empty packet reads as end of stream).", nameof(buffer));
        }
        var first = buffer[..Math.Min(buffer.Length, MaxPacketSize)];
        await DescriptorSocket.SendAsync(Socket, first, descriptors, cancellationToken).ConfigureAwait(false);
        await WriteAsync(buffer[first.Length..], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads like <see cref="ReadAsync(Memory{byte}, CancellationToken)"/> and adds the descriptors that came with
    /// the packet (close-on-exec, yours to dispose) to <paramref name="descriptors"/>. A packet larger than
    /// <paramref name="buffer"/> is handed out over several reads; its descriptors come with the first.
    /// </summary>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer, ICollection<SafeHandle> descriptors, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(descriptors);
        if (_packetCount > 0)
        {
            return CopyFromPacket(buffer.Span);
        }
        if (buffer.IsEmpty)
        {
            return 0;
        }
        var size = await DescriptorSocket.PeekPacketSizeAsync(Socket, cancellationToken).ConfigureAwait(false);
        if (size == 0)
        {
            return 0;
        }
        if (size <= buffer.Length)
        {
            return await DescriptorSocket.ReceiveAsync(Socket, buffer, descriptors, cancellationToken).ConfigureAwait(false);
        }
        var packet = RentPacket(size);
        _packetCount = await DescriptorSocket.ReceiveAsync(Socket, packet.AsMemory(0, size), descriptors, cancellationToken).ConfigureAwait(false);
        _packetOffset = 0;
        return CopyFromPacket(buffer.Span);
    }

    // A seqpacket send is atomic: all of the packet or an error.
    private static void CheckSent(int sent, int expected)
    {
        if (sent != expected)
        {
            throw new IOException($"A seqpacket send took {sent} of {expected} bytes.");
        }
    }

    /// <summary>Does nothing: every write is sent before it completes.</summary>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override Task FlushAsync(CancellationToken cancellationToken)
        => cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            if (_ownsSocket)
            {
                Socket.Dispose();
            }
            // Not returned to the pool: a read racing with Dispose may still be receiving into it.
            _packet = null;
            _packetCount = 0;
        }
        base.Dispose(disposing);
    }

    // Same shape as NetworkStream: an IOException carrying the SocketException.
    private static IOException ReadFailed(SocketException e) => new($"Unable to read data from the seqpacket socket: {e.Message}", e);

    private static IOException WriteFailed(SocketException e) => new($"Unable to write data to the seqpacket socket: {e.Message}", e);
}
