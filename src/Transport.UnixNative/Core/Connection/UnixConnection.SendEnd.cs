using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Core.Connection;

// How sending ends: a failed send, the peer's departure, then the reader completed, the pool
// released and the close handed to the loop, in that order (see CompleteSending).
internal sealed partial class UnixConnection
{
    // A send failed (the peer is gone, or an error): the send ends after ConnectionClosed fired, with this.
    private bool _sendFailed;
    private Exception? _sendError;

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
}
