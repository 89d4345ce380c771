using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Transport.UnixNative.Internal;

/// <summary>
/// Messages over the connection's pipes: the transport frames every received packet as a 4-byte
/// length and its bytes, and sends every frame the application writes as one packet. The pipes
/// keep their backpressure; the frames never reach the wire.
/// </summary>
internal sealed class UnixMessageFeature(IDuplexPipe transport, int maxMessageSize) : IUnixMessageFeature
{
    public const int HeaderSize = sizeof(int);

    public int MaxMessageSize { get; } = maxMessageSize;

    public async ValueTask<ReadOnlyMemory<byte>?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        var input = transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryReadFrame(ref buffer, out var message))
            {
                input.AdvanceTo(buffer.Start);
                return message;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return null;
            }
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        if (message.IsEmpty)
        {
            throw new ArgumentException("An empty message cannot be sent: the peer would read it as the end of the connection.", nameof(message));
        }
        if (message.Length > MaxMessageSize)
        {
            throw new ArgumentException($"A {message.Length}-byte message does not fit in one packet; this socket's limit is {MaxMessageSize} bytes (EMSGSIZE).", nameof(message));
        }
        var output = transport.Output;
        WriteFrame(output, message.Span);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static void WriteFrame(IBufferWriter<byte> writer, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteInt32LittleEndian(writer.GetSpan(HeaderSize), payload.Length);
        writer.Advance(HeaderSize);
        writer.Write(payload);
    }

    /// <summary>Splits one whole frame off <paramref name="buffer"/>; false (buffer untouched) if it is not all there.</summary>
    internal static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out byte[] payload)
    {
        payload = [];
        if (!TryReadLength(buffer, out var length) || buffer.Length < HeaderSize + (long)length)
        {
            return false;
        }
        payload = buffer.Slice(HeaderSize, length).ToArray();
        buffer = buffer.Slice(HeaderSize + (long)length);
        return true;
    }

    internal static bool TryReadLength(in ReadOnlySequence<byte> buffer, out int length)
    {
        length = 0;
        if (buffer.Length < HeaderSize)
        {
            return false;
        }
        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        length = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (length < 0)
        {
            throw new InvalidDataException($"Corrupt message frame: length {length}. Write to a message connection only through IUnixMessageFeature.");
        }
        return true;
    }
}
