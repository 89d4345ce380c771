using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// Messages over the connection's pipes: the transport frames every received packet as a 4-byte
/// length and its bytes, and sends every frame the application writes as one packet. The pipes
/// keep their backpressure; the frames never reach the wire. A frame flagged with
/// <see cref="DescriptorsFlag"/> has its descriptors in a queue beside the pipe, in frame order.
/// </summary>
internal sealed class UnixMessageFeature(IDuplexPipe transport, int maxMessageSize) : IUnixMessageFeature
{
    public const int HeaderSize = sizeof(int);

    /// <summary>Set in a frame's length word: descriptors travel with this message.</summary>
    public const int DescriptorsFlag = 1 << 30;

    private readonly Queue<SafeHandle[]> _outgoing = new();
    private readonly Lock _outgoingGate = new();
    private bool _released;

    public int MaxMessageSize { get; } = maxMessageSize;

    /// <summary>Descriptors of received messages, in order (the loop adds, the application takes).</summary>
    internal ConcurrentQueue<List<SafeFdHandle>> Received { get; } = new();

    /// <summary>Where the endpoint receives descriptors: the count each queued one is held in until taken or closed.</summary>
    internal HeldDescriptors? Held { get; set; }

    public ValueTask<ReadOnlyMemory<byte>?> ReceiveAsync(CancellationToken cancellationToken = default)
        => ReceiveAsync(null, cancellationToken);

    public async ValueTask<ReadOnlyMemory<byte>?> ReceiveAsync(ICollection<SafeHandle>? descriptors, CancellationToken cancellationToken = default)
    {
        var input = transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryReadFrame(ref buffer, out var message, out var hasDescriptors))
            {
                input.AdvanceTo(buffer.Start);
                if (hasDescriptors && Received.TryDequeue(out var handles))
                {
                    Held?.Release(handles.Count); // handed over or closed just below
                    foreach (var handle in handles)
                    {
                        if (descriptors is null)
                        {
                            handle.Dispose(); // not asked for: closed, never leaked
                        }
                        else
                        {
                            descriptors.Add(ReceivedDescriptors.HandOver(handle));
                        }
                    }
                }
                return message;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return null;
            }
        }
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
        => SendAsync(message, [], cancellationToken);

    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, IReadOnlyList<SafeHandle> descriptors, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(descriptors);
        if (message.IsEmpty)
        {
            throw new ArgumentException("An empty message cannot be sent: the peer would read it as the end of the connection.", nameof(message));
        }
        if (message.Length > MaxMessageSize)
        {
            throw new ArgumentException($"A {message.Length}-byte message does not fit in one packet; this socket's limit is {MaxMessageSize} bytes (EMSGSIZE).", nameof(message));
        }
        if (descriptors.Count > ControlMessages.MaxDescriptorsPerMessage)
        {
            throw new ArgumentException($"A message carries at most {ControlMessages.MaxDescriptorsPerMessage} descriptors (the kernel's SCM_MAX_FD); {descriptors.Count} were given.", nameof(descriptors));
        }
        var output = transport.Output;
        if (descriptors.Count > 0)
        {
            EnqueueOutgoing(descriptors);
        }
        WriteFrame(output, message.Span, descriptors.Count > 0);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    // Each descriptor stays open until the kernel has its own reference, even if the caller disposes it at once.
    private void EnqueueOutgoing(IReadOnlyList<SafeHandle> descriptors)
    {
        var held = new SafeHandle[descriptors.Count];
        var count = 0;
        try
        {
            foreach (var handle in descriptors)
            {
                ArgumentNullException.ThrowIfNull(handle, nameof(descriptors));
                var added = false;
                handle.DangerousAddRef(ref added);
                held[count++] = handle;
            }
            lock (_outgoingGate)
            {
                ObjectDisposedException.ThrowIf(_released, this);
                _outgoing.Enqueue(held);
            }
        }
        catch
        {
            for (var i = 0; i < count; i++)
            {
                held[i].DangerousRelease();
            }
            throw;
        }
    }

    /// <summary>The descriptors of the next flagged frame to send (transport side).</summary>
    internal SafeHandle[] PeekOutgoing()
    {
        lock (_outgoingGate)
        {
            return _outgoing.Peek();
        }
    }

    /// <summary>The flagged frame went out: drop our references.</summary>
    internal void CompleteOutgoing()
    {
        SafeHandle[] sent;
        lock (_outgoingGate)
        {
            sent = _outgoing.Dequeue();
        }
        Array.ForEach(sent, h => h.DangerousRelease());
    }

    /// <summary>The connection closed: release descriptors not sent, close those not taken.</summary>
    internal void ReleaseAll()
    {
        lock (_outgoingGate)
        {
            _released = true;
            while (_outgoing.TryDequeue(out var pending))
            {
                Array.ForEach(pending, h => h.DangerousRelease());
            }
        }
        while (Received.TryDequeue(out var handles))
        {
            handles.ForEach(h => h.Dispose());
            Held?.Release(handles.Count);
        }
    }

    internal static void WriteFrame(IBufferWriter<byte> writer, ReadOnlySpan<byte> payload, bool hasDescriptors = false)
    {
        BinaryPrimitives.WriteInt32LittleEndian(writer.GetSpan(HeaderSize), payload.Length | (hasDescriptors ? DescriptorsFlag : 0));
        writer.Advance(HeaderSize);
        writer.Write(payload);
    }

    /// <summary>Splits one whole frame off <paramref name="buffer"/>; false (buffer untouched) if it is not all there.</summary>
    internal static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out byte[] payload, out bool hasDescriptors)
    {
        payload = [];
        if (!TryReadLength(buffer, out var length, out hasDescriptors) || buffer.Length < HeaderSize + (long)length)
        {
            return false;
        }
        payload = buffer.Slice(HeaderSize, length).ToArray();
        buffer = buffer.Slice(HeaderSize + (long)length);
        return true;
    }

    internal static bool TryReadLength(in ReadOnlySequence<byte> buffer, out int length, out bool hasDescriptors)
    {
        length = 0;
        hasDescriptors = false;
        if (buffer.Length < HeaderSize)
        {
            return false;
        }
        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        var word = BinaryPrimitives.ReadInt32LittleEndian(header);
        hasDescriptors = (word & DescriptorsFlag) != 0;
        length = word & ~DescriptorsFlag;
        if (length < 0)
        {
            throw new InvalidDataException($"Corrupt message frame: length {word}. Write to a message connection only through IUnixMessageFeature.");
        }
        return true;
    }
}
