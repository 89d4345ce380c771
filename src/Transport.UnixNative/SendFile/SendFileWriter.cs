using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.SendFile;

/// <summary>
/// The output writer Kestrel sees on a stream connection that can send files. Everything passes
/// through to the output pipe, except the body bytes of a file: Kestrel must count them (its
/// Content-Length checks, keep-alive decision and response-complete state stay its own), so the
/// response body "writes" them through Kestrel's writer, and they end here as placeholders that
/// never enter the pipe. The file itself goes to the send loop, which sends it once everything
/// flushed before it has gone out; the flush that follows completes when the file has been sent.
/// </summary>
/// <remarks>
/// One object per connection, since every idle keep-alive connection carries it: it is also the
/// response body of the connection's HTTP/1.x requests (see SendFileWriter.ResponseBody.cs).
/// Used by one response at a time (HTTP/1.1 is sequential); the application's thread only.
/// </remarks>
internal sealed partial class SendFileWriter : PipeWriter
{
    // Kestrel needs memory to "advance" over; nobody reads it, so one buffer serves every connection.
    private static readonly byte[] s_placeholder = GC.AllocateUninitializedArray<byte>(64 * 1024);

    private readonly UnixConnection _connection;
    private long _placeholders;
    private PendingFile? _submitted;

    public SendFileWriter(UnixConnection connection)
    {
        _connection = connection;
    }

    // The output pipe's writer (the connection has it at hand: one field less here).
    private PipeWriter Inner => _connection.OutputPipeWriter;

    /// <summary>The next <paramref name="count"/> advanced bytes are a file's: count them, drop them.</summary>
    public void BeginPlaceholders(long count) => _placeholders = count;

    /// <summary>Placeholders Kestrel did not pass down (it drops writes once the connection is gone).</summary>
    public long EndPlaceholders()
    {
        var left = _placeholders;
        _placeholders = 0;
        return left;
    }

    /// <summary>Hands the file to the send loop; the next flush waits for it.</summary>
    public void Submit(PendingFile file)
    {
        _submitted = file;
        if (!_connection.TrySubmitFile(file))
        {
            file.Fail(new ConnectionAbortedException("The connection closed before the file could be sent."));
        }
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_placeholders == 0)
        {
            return Inner.GetMemory(sizeHint);
        }
        return sizeHint <= s_placeholder.Length ? s_placeholder : new byte[sizeHint];
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        if (_placeholders == 0)
        {
            Inner.Advance(bytes);
            return;
        }
        _placeholders -= Math.Min(bytes, _placeholders);
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        var flush = Inner.FlushAsync(cancellationToken);
        if (_submitted is not { } file)
        {
            return flush;
        }
        _submitted = null;
        return FlushThenWaitForFileAsync(flush, file, cancellationToken);
    }

    /// <summary>
    /// Never throws for the file's sake: Kestrel's flusher logs anything but a cancellation as a bug.
    /// The response body reads the file's outcome from <see cref="PendingFile.Completion"/>.
    /// </summary>
    private static async ValueTask<FlushResult> FlushThenWaitForFileAsync(ValueTask<FlushResult> flush, PendingFile file, CancellationToken cancellationToken)
    {
        var result = default(FlushResult);
        try
        {
            result = await flush.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            file.Cancel();
        }
        using (cancellationToken.UnsafeRegister(static state => ((PendingFile)state!).Cancel(), file))
        {
            await file.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        return file.Completion.IsCompletedSuccessfully ? result : new FlushResult(isCanceled: false, isCompleted: true);
    }

    public override void CancelPendingFlush() => Inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => Inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => Inner.CompleteAsync(exception);

    public override bool CanGetUnflushedBytes => Inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => Inner.UnflushedBytes;

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        => _placeholders == 0 && _submitted is null ? Inner.WriteAsync(source, cancellationToken) : base.WriteAsync(source, cancellationToken);
}
