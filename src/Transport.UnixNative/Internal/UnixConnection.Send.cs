using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Internal;

internal sealed partial class UnixConnection : IValueTaskSource<bool>
{
    // Segments gathered into one sendmsg; Kestrel's pool blocks are 4 KiB, so 64 of them is 256 KiB.
    private const int MaxIOVectors = 64;

    private ManualResetValueTaskSourceCore<bool> _writable = new() { RunContinuationsAsynchronously = false };
    private bool _waitingForWritable;
    private bool _outputEventsRegistered;

    private enum SendStatus
    {
        Sent,
        WouldBlock,
        Failed,
    }

    /// <summary>
    /// Takes what the application flushed and sends it; every continuation runs on the loop
    /// (the output pipe's reader scheduler), so flushes that land in one loop iteration become one sendmsg.
    /// </summary>
    private async Task SendLoopAsync()
    {
        Exception? error = null;
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled || _socketClosed)
                {
                    break;
                }
                var buffer = result.Buffer;
                var status = Send(ref buffer, out var errno);
                if (status == SendStatus.Failed)
                {
                    reader.AdvanceTo(buffer.Start, result.Buffer.End);
                    error = SendFailed(errno);
                    break;
                }
                if (status == SendStatus.WouldBlock)
                {
                    // Keep the unsent rest unexamined so the next read returns it at once.
                    reader.AdvanceTo(buffer.Start);
                    if (!await WaitForWritable().ConfigureAwait(false))
                    {
                        break;
                    }
                    continue;
                }
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
            TransportLog.ConnectionError(_logger, ConnectionId, ex);
        }
        finally
        {
            if (!_loop.IsCurrentThread && !_loop.IsStopped)
            {
                _loop.Schedule(static state => ((UnixConnection)state!).CloseSocket(null), this);
            }
            else
            {
                CloseSocket(error);
            }
        }
    }

    private unsafe SendStatus Send(ref ReadOnlySequence<byte> buffer, out int errno)
    {
        errno = 0;
        var limit = _isPacket ? SeqpacketLimits.SendPacketSize : int.MaxValue;
        var iov = stackalloc IOVector[MaxIOVectors];
        var handles = _loop.PinScratch;
        while (!buffer.IsEmpty)
        {
            // Gather up to MaxIOVectors segments (one packet's worth for seqpacket) into one call.
            var count = 0;
            long total = 0;
            foreach (var segment in buffer)
            {
                if (count == MaxIOVectors || total == limit)
                {
                    break;
                }
                if (segment.IsEmpty)
                {
                    continue;
                }
                var memory = segment.Length > limit - total ? segment[..(int)(limit - total)] : segment;
                handles[count] = memory.Pin();
                iov[count] = new IOVector { Base = handles[count].Pointer, Count = (nuint)memory.Length };
                total += memory.Length;
                count++;
            }
            if (count == 0)
            {
                buffer = buffer.Slice(buffer.End);
                break;
            }

            var message = new MessageHeader { IOVectors = iov, IOVectorCount = (nuint)count };
            nint n;
            do
            {
                // MSG_NOSIGNAL: a closed peer is an EPIPE error here, never a process-killing SIGPIPE.
                n = Message.sendmsg(_fdNumber, &message, Message.MSG_NOSIGNAL);
            }
            while (n < 0 && (errno = Libc.LastErrno) == Libc.EINTR);

            for (var i = 0; i < count; i++)
            {
                handles[i].Dispose();
            }
            if (n < 0)
            {
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

    private Exception SendFailed(int errno)
    {
        if (errno is Libc.EPIPE or Libc.ECONNRESET)
        {
            // The peer went away: an ordinary end for a connection, logged at debug level.
            TransportLog.ConnectionReset(_logger, ConnectionId);
            var reset = new ConnectionResetException($"The peer closed the connection while data was being sent ({Libc.Describe(errno)}).");
            Interlocked.CompareExchange(ref _abortReason, new ConnectionAbortedException(reset.Message, reset), null);
            return reset;
        }
        var error = NativeError.Exception("sendmsg", errno);
        TransportLog.ConnectionError(_logger, ConnectionId, error);
        return error;
    }

    private ValueTask<bool> WaitForWritable()
    {
        if (!_outputEventsRegistered)
        {
            // Edge-triggered output readiness, asked for once: it is only needed after a send would block.
            _outputEventsRegistered = true;
            if (_loop.Modify(_fd, Epoll.EPOLLIN | Epoll.EPOLLRDHUP | Epoll.EPOLLOUT, _token) != 0)
            {
                return ValueTask.FromResult(false);
            }
        }
        _writable.Reset();
        _waitingForWritable = true;
        return new ValueTask<bool>(this, _writable.Version);
    }

    private void OnWritable(bool canSend)
    {
        if (_waitingForWritable)
        {
            _waitingForWritable = false;
            _writable.SetResult(canSend);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _writable.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _writable.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _writable.OnCompleted(continuation, state, token, flags & ~ValueTaskSourceOnCompletedFlags.FlowExecutionContext);
}
