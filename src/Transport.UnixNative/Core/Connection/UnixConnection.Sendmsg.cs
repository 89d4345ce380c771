using System.Buffers;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Core.Connection;

// Output into sendmsg calls: stream chunks, seqpacket packets, message frames. Runs wherever the
// pump runs, which may be an application thread (see SendVectors for why that is safe).
internal sealed partial class UnixConnection
{
    // Segments gathered into one sendmsg; Kestrel's pool blocks are 4 KiB, so 64 of them is 256 KiB.
    private const int MaxIOVectors = 64;

    [ThreadStatic]
    private static MemoryHandle[]? t_pins;

    // Below this a send buffer is not a real configuration; EMSGSIZE then is an error.
    private const int MinPacketSendLimit = 1024;

    // Seqpacket: the largest packet we send, from SO_SNDBUF at the start (see MaxMessageSize).
    private int _packetSendLimit;

    private enum SendStatus
    {
        Sent,
        WouldBlock,
        Incomplete,
        Failed,
    }

    private SendStatus Send(ref ReadOnlySequence<byte> buffer, out int errno)
    {
        errno = 0;
        if (_messages is not null)
        {
            return SendMessages(ref buffer, out errno);
        }
        // A stream takes any amount; seqpacket output is cut into packets a peer can read whole.
        while (!buffer.IsEmpty)
        {
            var limit = _isPacket ? _packetSendLimit : long.MaxValue;
            var chunk = buffer.Length > limit ? buffer.Slice(0, limit) : buffer;
            var n = GatherAndSend(chunk, out var total, out errno);
            if (n < 0)
            {
                if (errno == Libc.EMSGSIZE && _isPacket && chunk.Length > MinPacketSendLimit)
                {
                    // The send buffer shrank below our packet size (SO_SNDBUF set after the start):
                    // smaller packets carry the same bytes.
                    _packetSendLimit = (int)(chunk.Length / 2);
                    continue;
                }
                return errno == Libc.EAGAIN ? SendStatus.WouldBlock : SendStatus.Failed;
            }
            buffer = buffer.Slice(n);
            if (n < total)
            {
                // A short stream send means the socket buffer is full.
                return SendStatus.WouldBlock;
            }
        }
        return SendStatus.Sent;
    }

    /// <summary>Sends every whole frame as one packet; a partial frame waits for the rest.</summary>
    private SendStatus SendMessages(ref ReadOnlySequence<byte> buffer, out int errno)
    {
        errno = 0;
        while (UnixMessageFeature.TryReadLength(buffer, out var length, out var hasDescriptors) && buffer.Length >= UnixMessageFeature.HeaderSize + (long)length)
        {
            var payload = buffer.Slice(UnixMessageFeature.HeaderSize, length);
            var n = hasDescriptors ? SendMessageWithDescriptors(payload, out errno) : GatherAndSend(payload, out _, out errno);
            if (n < 0)
            {
                return errno == Libc.EAGAIN ? SendStatus.WouldBlock : SendStatus.Failed;
            }
            buffer = buffer.Slice(payload.End);
        }
        return buffer.IsEmpty ? SendStatus.Sent : SendStatus.Incomplete;
    }

    /// <summary>
    /// One sendmsg of <paramref name="data"/>'s segments (up to <see cref="MaxIOVectors"/>; a packet
    /// with more is copied into one buffer so it is never split). Returns bytes sent, or -1 with errno.
    /// May run on an application thread: it holds a reference on the descriptor for the call.
    /// </summary>
    private unsafe nint GatherAndSend(in ReadOnlySequence<byte> data, out long total, out int errno)
    {
        total = 0;
        if (data.IsSingleSegment)
        {
            var span = data.FirstSpan;
            total = span.Length;
            fixed (byte* p = span)
            {
                var one = new IOVector { Base = p, Count = (nuint)span.Length };
                return SendVectors(&one, 1, out errno);
            }
        }

        var iov = stackalloc IOVector[MaxIOVectors];
        var handles = t_pins ??= new MemoryHandle[MaxIOVectors];
        byte[]? copy = null;
        var count = 0;
        try
        {
            if (_isPacket && SegmentCount(data) > MaxIOVectors)
            {
                copy = ArrayPool<byte>.Shared.Rent((int)data.Length);
                data.CopyTo(copy);
                handles[0] = copy.AsMemory(0, (int)data.Length).Pin();
                iov[0] = new IOVector { Base = handles[0].Pointer, Count = (nuint)data.Length };
                total = data.Length;
                count = 1;
            }
            else
            {
                foreach (var segment in data)
                {
                    if (count == MaxIOVectors)
                    {
                        break;
                    }
                    if (segment.IsEmpty)
                    {
                        continue;
                    }
                    handles[count] = segment.Pin();
                    iov[count] = new IOVector { Base = handles[count].Pointer, Count = (nuint)segment.Length };
                    total += segment.Length;
                    count++;
                }
            }
            return SendVectors(iov, count, out errno);
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                handles[i].Dispose();
            }
            if (copy is not null)
            {
                ArrayPool<byte>.Shared.Return(copy);
            }
        }
    }

    private unsafe nint SendVectors(IOVector* iov, int count, out int errno)
    {
        errno = 0;
        var added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            errno = Libc.EPIPE;
            return -1;
        }
        try
        {
            var message = new MessageHeader { IOVectors = iov, IOVectorCount = (nuint)count };
            nint n;
            do
            {
                // MSG_NOSIGNAL: a closed peer is an EPIPE error here, never a process-killing SIGPIPE.
                n = Message.sendmsg((int)_fd.DangerousGetHandle(), &message, Message.MSG_NOSIGNAL);
            }
            while (n < 0 && (errno = Libc.LastErrno) == Libc.EINTR);
            if (n > 0)
            {
                Metrics?.Sent(n);
            }
            return n;
        }
        finally
        {
            _fd.DangerousRelease();
        }
    }

    private static int SegmentCount(in ReadOnlySequence<byte> data)
    {
        var count = 0;
        foreach (var _ in data)
        {
            count++;
        }
        return count;
    }
}
