using Microsoft.AspNetCore.Connections;
using Microsoft.Win32.SafeHandles;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// A file range a response asked its connection to send with sendfile(2). The application's thread
/// creates it and waits for <see cref="Completion"/>; the connection's send loop sends it (loop thread).
/// </summary>
internal sealed class PendingFile
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly UnixConnection? _connection;

    public PendingFile(SafeFileHandle file, long offset, long count, UnixConnection? connection)
    {
        File = file;
        Offset = offset;
        Remaining = count;
        Count = count;
        _connection = connection;
    }

    public SafeFileHandle File { get; }

    public long Count { get; }

    /// <summary>The next byte to send; sendfile advances it.</summary>
    public long Offset;

    public long Remaining { get; private set; }

    /// <summary>Where the range last found in the page cache ends (loop thread).</summary>
    public long ResidentUntil { get; set; }

    public Task Completion => _done.Task;

    public bool CancellationRequested { get; private set; }

    public void Sent(long bytes) => Remaining -= bytes;

    public void Complete() => _done.TrySetResult();

    public void Fail(Exception error) => _done.TrySetException(error);

    /// <summary>
    /// The application gave up mid-file. The response already promised the rest of the bytes, so
    /// the connection cannot carry another response: abort it; the send loop then fails the file.
    /// </summary>
    public void Cancel()
    {
        if (Completion.IsCompleted)
        {
            return;
        }
        CancellationRequested = true;
        _connection?.Abort(new ConnectionAbortedException("The application canceled the file response before it was sent."));
    }
}
