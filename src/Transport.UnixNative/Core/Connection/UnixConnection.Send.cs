using System.IO.Pipelines;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Core.Connection;

// The send pump: moves what the application flushed to the socket. The syscall side is in
// UnixConnection.Sendmsg, the waits for a full socket in UnixConnection.Writable, the end of
// sending (failure, departure, close) in UnixConnection.SendEnd.
internal sealed partial class UnixConnection
{
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
                    if (TryGrowSendBuffer())
                    {
                        continue;
                    }
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
}
