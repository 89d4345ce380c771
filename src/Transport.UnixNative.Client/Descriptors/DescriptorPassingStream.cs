using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// The stream of a connection made for one request that carries descriptors: the request's head (up to the
/// blank line of its first write) goes out with them, everything else is the inner stream's.
/// </summary>
internal sealed class DescriptorPassingStream(Stream inner, Socket socket, IReadOnlyList<SafeHandle> descriptors) : Stream
{
    private IReadOnlyList<SafeHandle>? _pending = descriptors;

    public override bool CanRead => inner.CanRead;

    public override bool CanWrite => inner.CanWrite;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_pending is { } pending && !buffer.IsEmpty)
        {
            _pending = null;
            // The request head alone carries them: the server reads them with the head, so a handler can take
            // them before it reads the body. (A seqpacket packet is also no larger than the stream's own.)
            var headEnd = buffer.Span.IndexOf("\r\n\r\n"u8);
            var first = headEnd >= 0 ? buffer[..(headEnd + 4)] : buffer;
            if (inner is SeqpacketStream && first.Length > SeqpacketStream.MaxPacketSize)
            {
                first = first[..SeqpacketStream.MaxPacketSize];
            }
            await DescriptorSocket.SendAsync(socket, first, pending, cancellationToken).ConfigureAwait(false);
            buffer = buffer[first.Length..];
            if (buffer.IsEmpty)
            {
                return;
            }
        }
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(ReadOnlySpan<byte> buffer) => WriteAsync(buffer.ToArray()).AsTask().GetAwaiter().GetResult();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}
