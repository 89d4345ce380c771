using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Internal;

internal sealed partial class UnixConnection
{
    // Read at most this much per readiness event before flushing and yielding to other connections.
    private const int ReceiveBudget = 256 * 1024;

    private readonly Action _onFlushCompleted;
    private ConfiguredValueTaskAwaitable<FlushResult>.ConfiguredValueTaskAwaiter _flushAwaiter;
    private bool _receivePaused;
    private bool _receiveEnded;

    /// <summary>Reads until the socket is drained, straight into pipe memory, then flushes. Loop thread.</summary>
    private void Receive()
    {
        if (_receivePaused || _receiveEnded || _socketClosed)
        {
            return;
        }
        var writer = _input.Writer;
        var received = 0;
        var drained = false;
        while (received < ReceiveBudget)
        {
            var n = _isPacket ? ReceivePacket(writer, out var errno) : ReceiveStream(writer, out errno, out drained);
            if (n > 0)
            {
                Metrics?.Received(n);
                received += (int)n;
                if (drained)
                {
                    break;
                }
                continue;
            }
            if (n == 0)
            {
                // End of stream (a FIN, or for seqpacket the peer's close). Complete also publishes what was read.
                _receiveEnded = true;
                writer.Complete();
                return;
            }
            if (errno == Libc.EINTR)
            {
                continue;
            }
            if (errno == Libc.EAGAIN)
            {
                drained = true;
                break;
            }
            ReceiveFailed(errno);
            return;
        }

        if (received == 0)
        {
            return;
        }
        var flush = writer.FlushAsync().ConfigureAwait(false).GetAwaiter();
        if (!flush.IsCompleted)
        {
            // The application has not caught up (MaxReadBufferSize): stop reading until it does.
            _receivePaused = true;
            _flushAwaiter = flush;
            flush.UnsafeOnCompleted(_onFlushCompleted);
            return;
        }
        if (!ContinueAfterFlush(flush.GetResult()))
        {
            return;
        }
        if (!drained)
        {
            // Budget spent, data left: come back after the other connections had their turn.
            _loop.Schedule(static state => ((UnixConnection)state!).Receive(), this);
        }
    }

    private unsafe nint ReceiveStream(PipeWriter writer, out int errno, out bool drained)
    {
        var memory = writer.GetMemory();
        nint n;
        fixed (byte* buffer = memory.Span)
        {
            var iov = new IOVector { Base = buffer, Count = (nuint)memory.Length };
            var message = new MessageHeader { IOVectors = &iov, IOVectorCount = 1 };
            n = Message.recvmsg(_fdNumber, &message, 0);
        }
        errno = n < 0 ? Libc.LastErrno : 0;
        if (n > 0)
        {
            writer.Advance((int)n);
        }
        // A stream receive that does not fill the buffer has emptied the socket: any later data
        // raises a new edge, so the EAGAIN round trip can be skipped.
        drained = n > 0 && n < memory.Length;
        return n;
    }

    private unsafe nint ReceivePacket(PipeWriter writer, out int errno)
    {
        // A packet is read whole or not at all: receive into a buffer as large as any packet a peer
        // can send, then copy into the pipe (idle connections hold no buffer of their own).
        var buffer = _loop.PacketBuffer;
        nint n;
        int flags;
        fixed (byte* p = buffer)
        {
            var iov = new IOVector { Base = p, Count = (nuint)buffer.Length };
            var message = new MessageHeader { IOVectors = &iov, IOVectorCount = 1 };
            n = Message.recvmsg(_fdNumber, &message, 0);
            flags = message.Flags;
        }
        errno = n < 0 ? Libc.LastErrno : 0;
        if (n > 0)
        {
            if ((flags & Message.MSG_TRUNC) != 0)
            {
                // Only a privileged peer (SO_SNDBUFFORCE) can send more than the buffer: never drop bytes silently.
                TransportLog.PacketTruncated(_logger, ConnectionId, buffer.Length);
                errno = Libc.EMSGSIZE;
                return -1;
            }
            if (_messages is not null)
            {
                UnixMessageFeature.WriteFrame(writer, buffer.AsSpan(0, (int)n));
            }
            else
            {
                writer.Write(buffer.AsSpan(0, (int)n));
            }
        }
        return n;
    }

    private void OnFlushCompleted()
    {
        // Runs on the loop: the input pipe's writer scheduler is the loop.
        _receivePaused = false;
        if (_socketClosed || !ContinueAfterFlush(_flushAwaiter.GetResult()))
        {
            return;
        }
        // Edges that arrived while paused were consumed without reading: try now.
        Receive();
    }

    private bool ContinueAfterFlush(FlushResult result)
    {
        if (result.IsCompleted || result.IsCanceled)
        {
            // The application stopped reading (or the connection is aborting): read no more.
            _receiveEnded = true;
            if (result.IsCanceled)
            {
                _input.Writer.Complete(_abortReason);
            }
            return false;
        }
        return true;
    }

    private void ReceiveFailed(int errno)
    {
        _receiveEnded = true;
        Exception error = errno switch
        {
            Libc.ECONNRESET => new ConnectionResetException($"The peer reset the connection ({Libc.Describe(errno)}).", NativeError.Exception("recvmsg", errno)),
            Libc.EMSGSIZE => new ConnectionAbortedException("A packet larger than the receive buffer arrived; the connection was aborted rather than lose its tail."),
            _ => NativeError.Exception("recvmsg", errno),
        };
        if (errno != Libc.ECONNRESET)
        {
            TransportLog.ConnectionError(_logger, ConnectionId, error);
        }
        else
        {
            TransportLog.ConnectionReset(_logger, ConnectionId);
        }
        _input.Writer.Complete(error);
    }
}
