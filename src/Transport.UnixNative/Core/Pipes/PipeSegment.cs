using System.Buffers;

namespace Transport.UnixNative.Core.Pipes;

/// <summary>
/// One pool block of a <see cref="ConnectionPipe"/> (either direction of a connection).
/// <see cref="ReadOnlySequenceSegment{T}.RunningIndex"/> is the stream position of its first byte,
/// counted from the direction's first byte and never reset, so a <see cref="SequencePosition"/> the
/// reader hands back tells how much it has consumed.
/// </summary>
internal sealed class PipeSegment : ReadOnlySequenceSegment<byte>
{
    private IMemoryOwner<byte>? _block;

    /// <summary>Bytes written into this segment.</summary>
    public int Written;

    /// <summary>The whole block, for writing.</summary>
    public Memory<byte> Available { get; private set; }

    public PipeSegment? NextSegment => (PipeSegment?)Next;

    /// <summary>Stream position just past the last byte written here.</summary>
    public long End => RunningIndex + Written;

    public void Assign(IMemoryOwner<byte> block, long runningIndex)
    {
        _block = block;
        Available = block.Memory;
        // The last segment of a sequence may be longer than its data (the sequence's end index
        // bounds it); it is cut to its data before another is linked after it (see Link).
        Memory = Available;
        RunningIndex = runningIndex;
        Written = 0;
        Next = null;
    }

    /// <summary>Links <paramref name="next"/> after this segment, which is full (or done) from now on.</summary>
    public void Link(PipeSegment next)
    {
        Memory = Available[..Written];
        Next = next;
    }

    /// <summary>Returns the block to its pool.</summary>
    public void Release()
    {
        _block?.Dispose();
        _block = null;
        Available = default;
        Memory = default;
        Next = null;
    }
}

/// <summary>
/// Segments of one event loop's connections waiting for reuse, so that a connection with nothing buffered
/// holds none. Taken by the writer's thread (the loop for input, the application for output), given
/// back by whichever thread consumed the bytes.
/// </summary>
internal sealed class PipeSegmentPool
{
    private const int Capacity = 256;
    private readonly PipeSegment?[] _free = new PipeSegment?[Capacity];
    private int _count;

    public PipeSegment Rent()
    {
        lock (_free)
        {
            if (_count > 0)
            {
                var segment = _free[--_count]!;
                _free[_count] = null;
                return segment;
            }
        }
        return new PipeSegment();
    }

    public void Return(PipeSegment segment)
    {
        segment.Release();
        lock (_free)
        {
            if (_count < Capacity)
            {
                _free[_count++] = segment;
            }
        }
    }
}
