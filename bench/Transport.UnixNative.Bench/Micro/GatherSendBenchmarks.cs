using System.Buffers;
using BenchmarkDotNet.Attributes;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Bench.Micro;

/// <summary>
/// Sending a multi-segment <see cref="ReadOnlySequence{T}"/> (what a pipe hands the transport):
/// one sendmsg with an iovec per segment (what UnixConnection.Sendmsg does), one send per segment,
/// or a copy into one buffer and one send. Over a socketpair; every variant also drains the peer,
/// so each operation moves the same bytes end to end.
/// </summary>
[MemoryDiagnoser]
public unsafe class GatherSendBenchmarks
{
    private const int MaxIOVectors = 64;

    private NativeSocketPair _pair = null!;
    private ReadOnlySequence<byte> _sequence;
    private byte[] _flat = null!;
    private byte[] _drain = null!;
    private readonly MemoryHandle[] _pins = new MemoryHandle[MaxIOVectors];

    /// <summary>Segments in the sequence (Kestrel's pool blocks are 4 KiB; a response is often head + body).</summary>
    [Params(4, 16)]
    public int Segments { get; set; }

    [Params(256, 4096)]
    public int SegmentSize { get; set; }

    private int Total => Segments * SegmentSize;

    [GlobalSetup]
    public void Setup()
    {
        // Blocking sockets: at most 64 KiB per operation, well inside a unix socket's send buffer.
        _pair = new NativeSocketPair(nonBlocking: false);
        _sequence = Segment.Chain(Segments, SegmentSize);
        _flat = GC.AllocateArray<byte>(Total, pinned: true);
        _drain = GC.AllocateArray<byte>(Total, pinned: true);
    }

    [GlobalCleanup]
    public void Cleanup() => _pair.Dispose();

    [Benchmark(Baseline = true, Description = "one send per segment")]
    public int SendPerSegment()
    {
        foreach (var segment in _sequence)
        {
            using var pin = segment.Pin();
            var iov = new IOVector { Base = pin.Pointer, Count = (nuint)segment.Length };
            Send(&iov, 1);
        }
        return Drain();
    }

    [Benchmark(Description = "gathered into one sendmsg")]
    public int GatheredSendmsg()
    {
        var iov = stackalloc IOVector[MaxIOVectors];
        var count = 0;
        foreach (var segment in _sequence)
        {
            _pins[count] = segment.Pin();
            iov[count] = new IOVector { Base = _pins[count].Pointer, Count = (nuint)segment.Length };
            count++;
        }
        Send(iov, count);
        for (var i = 0; i < count; i++)
        {
            _pins[i].Dispose();
        }
        return Drain();
    }

    [Benchmark(Description = "copy, then one send")]
    public int CopyThenSend()
    {
        _sequence.CopyTo(_flat);
        fixed (byte* p = _flat)
        {
            var iov = new IOVector { Base = p, Count = (nuint)_flat.Length };
            Send(&iov, 1);
        }
        return Drain();
    }

    private void Send(IOVector* iov, int count)
    {
        var message = new MessageHeader { IOVectors = iov, IOVectorCount = (nuint)count };
        if (Message.sendmsg(_pair.First.Fd, &message, Message.MSG_NOSIGNAL) < 0)
        {
            throw new IOException($"sendmsg: {Libc.Describe(Libc.LastErrno)}");
        }
    }

    private int Drain()
    {
        var received = 0;
        fixed (byte* p = _drain)
        {
            while (received < Total)
            {
                var n = Libc.read(_pair.Second.Fd, p + received, (nuint)(Total - received));
                if (n <= 0)
                {
                    throw new IOException($"read: {(n == 0 ? "EOF" : Libc.Describe(Libc.LastErrno))}");
                }
                received += (int)n;
            }
        }
        return received;
    }

    /// <summary>A pinned block, as the transport's memory pool hands out.</summary>
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private Segment(int size, long runningIndex)
        {
            Memory = GC.AllocateArray<byte>(size, pinned: true);
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Chain(int count, int size)
        {
            var first = new Segment(size, 0);
            var last = first;
            for (var i = 1; i < count; i++)
            {
                var next = new Segment(size, last.RunningIndex + size);
                last.Next = next;
                last = next;
            }
            return new ReadOnlySequence<byte>(first, 0, last, size);
        }
    }
}
