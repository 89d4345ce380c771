using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Loop;

namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// The send-file path of a stream connection: a file range queued by the response body goes out
/// with sendfile(2) from the event loop, after everything the application flushed before it.
/// </summary>
/// <remarks>
/// Slow disks: sendfile on a non-blocking socket never waits for the peer, but it reads the file
/// synchronously. Before each window of the range the loop asks the kernel which pages are cached
/// (cachestat, Linux 6.5+). Cached windows go out from the loop; a window that is not (or a kernel
/// that cannot tell) is sent from a thread-pool thread, after asking for read-ahead, so only that
/// thread waits for the disk. Pages evicted between the check and the send are the remaining risk.
/// </remarks>
internal sealed partial class UnixConnection
{
    // Bytes one connection may send per turn of the loop before the others get theirs.
    private const long SendFileTurn = 1024 * 1024;

    // How much of the range one page-cache check vouches for.
    private const long ResidencyWindow = 2 * 1024 * 1024;

    private static readonly PendingFile s_closedForFiles = new(new SafeFileHandle(), 0, 0, null);

    private System.IO.Pipelines.PipeWriter? _sendFileWriter; // what Kestrel writes through when files go out with sendfile
    private ISendFileFeature? _sendFile;
    private PendingFile? _pendingFile; // set by the application's thread, taken by the send loop

    /// <summary>The writer's rate check rides Kestrel's heartbeat (kept here, where a bool packs with the others).</summary>
    internal bool SendFileOnHeartbeat;

    /// <summary>Whether files can go out with sendfile(2): a stream socket whose bytes are not framed as messages.</summary>
    internal bool CanSendFile => !_isPacket && _messages is null;

    /// <summary>
    /// Offers <paramref name="feature"/> to HTTP responses and, where files go out with sendfile, puts
    /// <paramref name="writer"/> over the output pipe; called once, before <see cref="Start"/>.
    /// </summary>
    public void EnableSendFile(ISendFileFeature feature, System.IO.Pipelines.PipeWriter? writer)
    {
        _sendFile = feature;
        _sendFileWriter = writer;
        _featureRevision++;
    }

    internal ILogger Logger => _logger;

    /// <summary>The output pipe's own writer, under the send-file writer Kestrel sees.</summary>
    internal System.IO.Pipelines.PipeWriter OutputPipeWriter => _output;

    /// <summary>Queues <paramref name="file"/> behind what was flushed before it; false once the connection closed.</summary>
    internal bool TrySubmitFile(PendingFile file)
    {
        if (Interlocked.CompareExchange(ref _pendingFile, file, null) is not null)
        {
            return false;
        }
        // Wakes the send loop if it waits for application data (a read canceled without an abort reason).
        _output.Reader.CancelPendingRead();
        return true;
    }

    private bool HasPendingFile => Volatile.Read(ref _pendingFile) is { } file && !ReferenceEquals(file, s_closedForFiles);

    /// <summary>A canceled output read is an abort, unless it was the wake-up of a queued file.</summary>
    private bool IsAbortRead(in System.IO.Pipelines.ReadResult result)
        => result.IsCanceled && (_sendFileWriter is null || _abortReason is not null);

    /// <summary>Sends the queued file; false if the connection cannot go on (the file failed or it was aborted).</summary>
    private async Task<bool> SendPendingFileAsync()
    {
        var file = Volatile.Read(ref _pendingFile)!;
        if (!_loop.IsCurrentThread)
        {
            await _loop.SwitchTo();
        }
        var error = await SendFileRangeAsync(file).ConfigureAwait(false);
        if (error is null)
        {
            Interlocked.CompareExchange(ref _pendingFile, null, file);
            TransportLog.SendFileSent(_logger, ConnectionId, file.Count);
            file.Complete();
            return true;
        }
        // The response promised these bytes: nothing may follow on this connection.
        Interlocked.CompareExchange(ref _pendingFile, s_closedForFiles, file);
        if (error is not ConnectionAbortedException)
        {
            TransportLog.SendFileFailed(_logger, ConnectionId, error.Message, error);
        }
        Interlocked.CompareExchange(ref _abortReason, error as ConnectionAbortedException ?? new ConnectionAbortedException(error.Message, error), null);
        file.Fail(error);
        return false;
    }

    /// <summary>Loop thread. Null when the whole range went out, else why it did not.</summary>
    private async ValueTask<Exception?> SendFileRangeAsync(PendingFile file)
    {
        long turn = 0;
        while (file.Remaining > 0)
        {
            if (_socketClosed || _abortReason is not null || file.CancellationRequested)
            {
                return AbortedFile();
            }
            nint n;
            int errno;
            if (IsCached(file))
            {
                n = Interop.SendFile.Send(_fd.Fd, file.File, ref file.Offset, file.ResidentUntil - file.Offset, out errno);
            }
            else
            {
                (n, errno) = await SendFromThreadPoolAsync(file, Math.Min(file.Remaining, ResidencyWindow)).ConfigureAwait(false);
                await _loop.SwitchTo();
                if (n < 0 && errno == Libc.EAGAIN && Poll.IsWritableNow(_fd))
                {
                    // The writable edge came while the pool thread ran: waiting for it would wait forever.
                    continue;
                }
            }
            if (n > 0)
            {
                file.Sent(n);
                turn += n;
                if (turn >= SendFileTurn && file.Remaining > 0)
                {
                    turn = 0;
                    await _loop.Yield();
                }
                continue;
            }
            if (n == 0)
            {
                return new IOException($"The file ended at offset {file.Offset} with {file.Remaining} of the response's bytes still to send: it shrank while being sent.");
            }
            if (errno == Libc.EAGAIN)
            {
                turn = 0;
                if (!await WaitForWritable().ConfigureAwait(false))
                {
                    return AbortedFile();
                }
                continue;
            }
            if (errno is Libc.EPIPE or Libc.ECONNRESET)
            {
                SendFailed(errno);
                return AbortedFile();
            }
            return NativeError.Exception("sendfile", errno);
        }
        return null;
    }

    private ConnectionAbortedException AbortedFile()
        => _abortReason is { } reason
            ? new("The connection ended before the file was sent.", reason)
            : new("The connection ended before the file was sent.");

    /// <summary>Whether the next window of the range is in the page cache; asks for read-ahead when it is not.</summary>
    private static bool IsCached(PendingFile file)
    {
        if (file.Offset < file.ResidentUntil)
        {
            return true;
        }
        var window = Math.Min(file.Remaining, ResidencyWindow);
        var pageSize = Environment.SystemPageSize;
        var pages = (file.Offset + window - 1) / pageSize - file.Offset / pageSize + 1;
        if (Interop.SendFile.CachedPages(file.File, file.Offset, window, out _) >= pages)
        {
            file.ResidentUntil = file.Offset + window;
            return true;
        }
        Interop.SendFile.Advise(file.File, file.Offset, window, Interop.SendFile.POSIX_FADV_WILLNEED);
        return false;
    }

    /// <summary>One sendfile on a pool thread: it may wait for the disk, the loop must not.</summary>
    private Task<(nint Sent, int Errno)> SendFromThreadPoolAsync(PendingFile file, long count)
        => Task.Run(() =>
        {
            var added = false;
            try
            {
                // The loop may close the socket meanwhile (shutdown): the number must not be reused under us.
                _fd.DangerousAddRef(ref added);
                var n = Interop.SendFile.Send(_fd.Fd, file.File, ref file.Offset, count, out var errno);
                return (n, errno);
            }
            catch (ObjectDisposedException)
            {
                return ((nint)(-1), Libc.EPIPE);
            }
            finally
            {
                if (added)
                {
                    _fd.DangerousRelease();
                }
            }
        });

    /// <summary>The connection closed: a file still queued fails, and no new one is accepted. Loop thread.</summary>
    private void CloseSendFile(Exception? reason)
    {
        if (_sendFileWriter is null)
        {
            return;
        }
        var file = Interlocked.Exchange(ref _pendingFile, s_closedForFiles);
        if (file is not null && !ReferenceEquals(file, s_closedForFiles))
        {
            file.Fail(reason is null
                ? new ConnectionAbortedException("The connection closed before the file was sent.")
                : new ConnectionAbortedException("The connection closed before the file was sent.", reason));
        }
    }
}
