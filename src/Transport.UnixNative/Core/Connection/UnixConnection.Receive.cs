using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Pipes;

namespace Transport.UnixNative.Core.Connection;

internal sealed partial class UnixConnection
{
    // Read at most this much per readiness event before flushing and yielding to other connections.
    private const int ReceiveBudget = 256 * 1024;

    private bool _receivePaused;
    private bool _receiveEnded;

    // Why the receive failed; the input ends with it after ConnectionClosed fired.
    private Exception? _inputError;

    // An event said the peer shut down, hung up or failed: a short read no longer proves the
    // socket empty (the edge that carried the end is spent), so receives go on to EOF or EAGAIN.
    private bool _peerEnding;

    // EPOLLERR came: the peer closed with our data unread (ECONNRESET pending in SO_ERROR). A
    // non-blocking seqpacket recvmsg never returns that error, a stream one only on an empty queue.
    private bool _peerFailed;

    /// <summary>
    /// Reads until the socket is drained, then flushes. Loop thread. Every stream read goes into the
    /// loop's scratch buffer and what arrived is copied into the pipe: any read may find nothing (an
    /// edge whose data an earlier read already took, after a full read, at the end, after a pause),
    /// and pipe memory taken for it would stay with the idle connection until its next bytes.
    /// </summary>
    private void Receive()
    {
        if (_receivePaused || _receiveEnded || _socketClosed)
        {
            return;
        }
        var writer = _input;
        var received = 0;
        var wrote = false;
        var drained = false;
        while (received < ReceiveBudget)
        {
            var n = _isPacket
                ? ReceivePacket(writer, out var errno, out var emptyPacket)
                : ReceiveStream(writer, out errno, out drained, out emptyPacket);
            if (n > 0 || emptyPacket)
            {
                if (n > 0)
                {
                    Metrics?.Received(n);
                }
                // Empty packets count too: a flood of them must not hold the loop.
                received += n > 0 ? (int)n : 64;
                wrote |= n > 0 || _messages is not null;
                if (drained)
                {
                    break;
                }
                continue;
            }
            if (n == 0)
            {
                if (_peerFailed && TakePendingError() is var pending and not 0)
                {
                    // Everything sent was read; the end is a reset, not a clean close.
                    ReceiveFailed(pending);
                    return;
                }
                // End of stream (a FIN, or for seqpacket the peer's shutdown or close). Complete also publishes what was read.
                // A half-close is not a departure: the peer still reads, so what it sent is read to the end
                // before the end shows (see CompleteWriterWhenExamined).
                _receiveEnded = true;
                writer.CompleteWriterWhenExamined();
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

        if (!wrote)
        {
            return;
        }
        switch (writer.Publish())
        {
            case PipeFlush.Paused:
                // The application has not caught up (MaxReadBufferSize): stop reading until it does (OnWriterResumed).
                _receivePaused = true;
                return;
            case PipeFlush.ReaderCompleted:
                // The application stopped reading: read no more.
                _receiveEnded = true;
                return;
        }
        if (!drained)
        {
            // Budget spent, data left: come back after the other connections had their turn.
            _loop.Schedule(static state => ((UnixConnection)state!).Receive(), this);
        }
    }

    private nint ReceiveStream(ConnectionPipe writer, out int errno, out bool drained, out bool emptyPacket)
    {
        emptyPacket = false;
        var memory = _loop.StreamBuffer;
        var n = ReceiveWithDescriptors(memory.Span, out var flags, out errno, out var carriedDescriptors, out _);
        if (n > 0)
        {
            writer.Write(memory.Span[..(int)n]);
        }
        // A short read has emptied the socket only if the event that led here did not carry the
        // end (data arriving later raises a new edge; an end already signalled does not), and the
        // kernel did not end it early after a sendmsg carrying descriptors. Otherwise read on, to
        // EAGAIN or EOF.
        // (Descriptors the kernel closed for lack of room, MSG_CTRUNC, end a read early just the same.)
        drained = n > 0 && n < memory.Length && !_peerEnding && !carriedDescriptors && (flags & ControlMessages.MSG_CTRUNC) == 0;
        return n;
    }

    /// <summary>
    /// Turns on SO_PASSCRED for a packet socket: then every packet, even an empty one, comes with its
    /// sender's credentials, and a read of 0 without them is the peer's real end. Without it an empty
    /// packet (legal) and the end of the connection read the same.
    /// </summary>
    private void EnablePacketCredentials()
    {
        if (Interop.Socket.SetIntOption(_fd.Fd, Interop.Socket.SOL_SOCKET, Interop.Socket.SO_PASSCRED, 1) != 0)
        {
            throw NativeError.Exception("setsockopt(SO_PASSCRED)", Libc.LastErrno);
        }
    }

    private nint ReceivePacket(ConnectionPipe writer, out int errno, out bool emptyPacket)
    {
        // A packet is read whole or not at all: receive into a buffer as large as any packet a peer
        // can send, then copy into the pipe (idle connections hold no buffer of their own).
        var buffer = _loop.PacketBuffer;
        var n = ReceiveWithDescriptors(buffer, out var flags, out errno, out var carriedDescriptors, out var carriedCredentials);
        // An empty packet carries no bytes (HTTP skips it) but is a message of its own.
        emptyPacket = n == 0 && carriedCredentials;
        if (emptyPacket && _messages is not null)
        {
            UnixMessageFeature.WriteFrame(writer, [], carriedDescriptors);
        }
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
                UnixMessageFeature.WriteFrame(writer, buffer.AsSpan(0, (int)n), carriedDescriptors);
            }
            else
            {
                writer.Write(buffer.AsSpan(0, (int)n));
            }
        }
        return n;
    }

    /// <summary>The application caught up with a paused receive, or stopped reading. Loop thread (scheduled by the input).</summary>
    void IResumableWriter.OnWriterResumed()
    {
        if (!_receivePaused)
        {
            return; // ended meanwhile (aborted, reset, closed)
        }
        _receivePaused = false;
        if (_input.IsReaderCompleted)
        {
            _receiveEnded = true;
            return;
        }
        // Edges that arrived while paused were consumed without reading: try now.
        Receive();
    }

    /// <summary>The socket's pending error (SO_ERROR, cleared by reading it), or 0.</summary>
    private int TakePendingError()
        => Interop.Socket.GetIntOption(_fd.Fd, Interop.Socket.SOL_SOCKET, Interop.Socket.SO_ERROR, out var pending) == 0 ? pending : 0;

    private void ReceiveFailed(int errno)
    {
        _receiveEnded = true;
        Exception error = errno switch
        {
            DescriptorFailure => _descriptorFailure!,
            Libc.ECONNRESET => new ConnectionResetException($"The peer reset the connection ({Libc.Describe(errno)}).", NativeError.Exception("recvmsg", errno)),
            Libc.EMSGSIZE => new ConnectionAbortedException("A packet larger than the receive buffer arrived; the connection was aborted rather than lose its tail."),
            _ => NativeError.Exception("recvmsg", errno),
        };
        if (errno == Libc.ECONNRESET)
        {
            TransportLog.ConnectionReset(_logger, ConnectionId);
        }
        else if (errno != DescriptorFailure) // descriptor failures are logged where they happen, once
        {
            TransportLog.ConnectionError(_logger, ConnectionId, error);
        }
        // Reset or failed: the peer's side is gone, whether or not the application reads. Its reads fail
        // only once ConnectionClosed has fired (logged first: that can end the connection at once).
        _inputError = error;
        RunAfterConnectionClosed(InputEndWaits);
    }

    private void EndInputAfterDeparture() => _input.CompleteWriter(_inputError);
}
