using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Core.Connection;

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

    // Made at the first send that would block: most connections never wait.
    private WritableSignal? _writable;
    private bool _waitingForWritable;
    private bool _outputEventsRegistered;

    // A send failed (the peer is gone, or an error): the send ends after ConnectionClosed fired, with this.
    private bool _sendFailed;
    private Exception? _sendError;

    private enum SendStatus
    {
        Sent,
        WouldBlock,
        Incomplete,
        Failed,
    }

    // What the output holds while the connection waits for the application: this static callback and
    // the connection, no delegate, awaiter or async state machine per idle connection (issue 9).
    // Once what it waited for is there, the pump simply runs again: its read then returns at once.
    private static readonly Action<object?> s_resumeSending = static state => ((UnixConnection)state!).SendPump();

    /// <summary>Starts the send pump (<see cref="SendPump"/>); it resumes itself from the output. Loop thread.</summary>
    private void StartSending() => SendPump();

    /// <summary>
    /// Takes what the application flushed and sends it, for as long as reads complete at once; then
    /// leaves a continuation with the output pipe and returns. The pipe resumes it from a thread-pool
    /// work item that serves every connection of the event loop (<see cref="Loop.SendScheduler"/>): a burst
    /// of flushes becomes one sendmsg, and no eventfd wake-up is needed per response.
    /// Only when the socket is full does the pump move to the I/O thread, which alone waits for
    /// writability (so a writable edge can never slip between a failed send and the wait). Those
    /// waits, and a queued file, run as async methods only while they last (<see cref="ResumeAfterAsync"/>).
    /// </summary>
    private void SendPump()
    {
        Exception? error = null;
        var reader = _output.Reader;
        try
        {
            // A loop, never a recursion: thousands of reads in a row may complete at once (pipelining).
            while (true)
            {
                ReadResult result;
                if (!HasPendingFile)
                {
                    if (!reader.TryReadOrWait(out result, s_resumeSending, this))
                    {
                        // Nothing after this: the continuation may already be running on another thread.
                        return;
                    }
                }
                else if (!reader.TryRead(out result))
                {
                    // The pipe is empty: everything flushed before the file has gone out.
                    var sent = SendPendingFileAsync();
                    if (!sent.IsCompleted)
                    {
                        _ = ResumeAfterAsync(new ValueTask<bool>(sent));
                        return;
                    }
                    if (!sent.GetAwaiter().GetResult())
                    {
                        break;
                    }
                    continue;
                }
                if (IsAbortRead(result) || _socketClosed)
                {
                    break;
                }
                var buffer = result.Buffer;
                var status = Send(ref buffer, out var errno);
                Metrics?.SendStarted(onLoop: _loop.IsCurrentThread);
                if (status == SendStatus.Failed)
                {
                    reader.AdvanceTo(buffer.Start, result.Buffer.End);
                    error = SendFailed(errno);
                    _sendFailed = true;
                    break;
                }
                if (status == SendStatus.WouldBlock)
                {
                    // Keep the unsent rest unexamined so the next read returns it at once.
                    reader.AdvanceTo(buffer.Start);
                    if (!_loop.IsCurrentThread)
                    {
                        // Retry once on the loop before waiting.
                        _loop.Schedule(static state => ((UnixConnection)state!).SendPump(), this);
                        return;
                    }
                    var writable = WaitForWritable();
                    if (!writable.IsCompleted)
                    {
                        _ = ResumeAfterAsync(writable);
                        return;
                    }
                    if (!writable.GetAwaiter().GetResult())
                    {
                        break;
                    }
                    continue;
                }
                if (status == SendStatus.Incomplete)
                {
                    // Half a message frame: wait for the application to write the rest.
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
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
            // One connection's failure: it ends here, never on the thread pool or the loop's thread.
            error = ex;
            TransportLog.ConnectionError(_logger, ConnectionId, ex);
        }
        EndSending(error);
    }

    /// <summary>
    /// The rare waits (socket full, a file being sent): an async method only while one lasts, then
    /// back to <see cref="SendPump"/>. Called only with a wait that was not complete, so the pump goes
    /// on from the wait's completion rather than nesting in itself (one level at most, in a race).
    /// </summary>
    private async Task ResumeAfterAsync(ValueTask<bool> wait)
    {
        bool canSend;
        try
        {
            canSend = await wait.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            TransportLog.ConnectionError(_logger, ConnectionId, ex);
            EndSending(ex);
            return;
        }
        if (canSend)
        {
            SendPump();
        }
        else
        {
            EndSending(null);
        }
    }

    /// <summary>The end of sending, once: the pump broke off, failed, or a wait said the connection is ending.</summary>
    private void EndSending(Exception? error)
    {
        if (_sendFailed)
        {
            // The application's flushes learn that the output is gone only after Kestrel learned that
            // the peer is (RunAfterConnectionClosed); until then a waiting flush keeps waiting.
            _sendError = error;
            RunAfterConnectionClosed(SendEndWaits);
            return;
        }
        CompleteSending(error);
    }

    private void EndSendingAfterDeparture()
    {
        // A flush still waiting is cut short (canceled) rather than told "completed": copy loops such as
        // PipeReader.CopyToAsync then stop with an OperationCanceledException, which Kestrel takes as the
        // aborted request it is, instead of acting on a completed flush in the middle of their buffer.
        _output.CancelWaitingFlush();
        CompleteSending(_sendError);
    }

    private void CompleteSending(Exception? error)
    {
        try
        {
            // Only the send pump completes its reader, and only here: no sendmsg can be reading the
            // pipe's memory any more. Then the pool may go (the loop's dispose waits for this).
            _output.Reader.Complete(error);
            _loop.ReleasePool();
            MarkClosed(SendEnded);
            // Closing belongs to the loop: it owns the registration and the descriptor's number.
            if (_loop.IsCurrentThread)
            {
                CloseSocket(error);
            }
            else
            {
                _loop.Schedule(static state =>
                {
                    var (connection, sendError) = ((UnixConnection, Exception?))state!;
                    connection.CloseSocket(sendError);
                }, (this, error));
            }
        }
        catch (Exception ex)
        {
            TransportLog.ConnectionError(_logger, ConnectionId, ex);
        }
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

    /// <summary>The error the application's writer should see: none for a peer that went away.</summary>
    private Exception? SendFailed(int errno)
    {
        if (errno is Libc.EPIPE or Libc.ECONNRESET)
        {
            // The peer went away: an ordinary end for a connection, logged at debug level. The
            // application's next flush reports completion rather than throwing (as with Kestrel's
            // Sockets transport), and the input ends with the reset as its reason.
            TransportLog.ConnectionReset(_logger, ConnectionId);
            var reset = new ConnectionResetException($"The peer closed the connection while data was being sent ({Libc.Describe(errno)}).");
            Interlocked.CompareExchange(ref _abortReason, new ConnectionAbortedException(reset.Message, reset), null);
            return null;
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
        var writable = _writable ??= new WritableSignal();
        _waitingForWritable = true;
        Metrics?.SendWaitingForWritable();
        return writable.Wait();
    }

    private void OnWritable(bool canSend)
    {
        if (_waitingForWritable)
        {
            _waitingForWritable = false;
            _writable!.Set(canSend);
        }
    }

    /// <summary>The send loop's wait for output readiness: true when it may send again, false when the connection is ending.</summary>
    private sealed class WritableSignal : IValueTaskSource<bool>
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };

        public ValueTask<bool> Wait()
        {
            _core.Reset();
            return new ValueTask<bool>(this, _core.Version);
        }

        public void Set(bool canSend) => _core.SetResult(canSend);

        bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags & ~ValueTaskSourceOnCompletedFlags.FlowExecutionContext);
    }
}
