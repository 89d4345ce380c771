using System.IO.Pipelines;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Net.Http.Headers;
using Transport.UnixNative.Internal;

namespace Transport.UnixNative.SendFile;

/// <summary>
/// Kestrel's HTTP/1.1 response body with a zero-copy <see cref="SendFileAsync"/>: the headers and
/// anything written before are flushed, Kestrel counts the file's bytes as written (see
/// <see cref="SendFileWriter"/>), and the connection sends the range with sendfile(2). Whatever
/// cannot take that path (HTTP/2, chunked or bodiless responses, seqpacket, a wrapped transport)
/// gets Kestrel's own copying <c>SendFileAsync</c>.
/// </summary>
internal sealed class SendFileResponseBody(IHttpResponseBodyFeature inner, HttpContext context, SendFileConnectionFeature connection) : IHttpResponseBodyFeature
{
    // A flush's allowance under MinResponseDataRate never needs to exceed this.
    private static readonly TimeSpan s_maxGracePeriod = TimeSpan.FromDays(7);

    /// <summary>Whether this wraps exactly <paramref name="body"/> for <paramref name="httpContext"/> (then it can serve that request).</summary>
    public bool Wraps(IHttpResponseBodyFeature body, HttpContext httpContext) => ReferenceEquals(inner, body) && ReferenceEquals(context, httpContext);

    public Stream Stream => inner.Stream;

    public PipeWriter Writer => inner.Writer;

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task CompleteAsync() => inner.CompleteAsync();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        var reason = connection.WhyNot(context.Request) ?? WhyNotThisResponse();
        if (reason is not null)
        {
            return Fallback(reason, path, offset, count, cancellationToken);
        }
        return SendWithSendFileAsync(path, offset, count, cancellationToken);
    }

    private Task Fallback(string reason, string path, long offset, long? count, CancellationToken cancellationToken)
    {
        TransportLog.SendFileFallback(connection.Logger, connection.ConnectionId, reason);
        return inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    /// <summary>Only an identity body of known length can carry raw file bytes.</summary>
    private string? WhyNotThisResponse()
    {
        var response = context.Response;
        if (HttpMethods.IsHead(context.Request.Method) || response.StatusCode is StatusCodes.Status204NoContent or StatusCodes.Status205ResetContent or StatusCodes.Status304NotModified)
        {
            return "the response has no body";
        }
        if (response.Headers.ContainsKey(HeaderNames.TransferEncoding) || response.ContentLength is null)
        {
            return "chunked response (no Content-Length)";
        }
        return null;
    }

    private async Task SendWithSendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (!Interop.SendFile.IsRegularFile(file))
        {
            // A device linked into a served directory: its length reads as 0, the copying path reads what was promised.
            file.Dispose();
            await Fallback("not a regular file", path, offset, count, cancellationToken).ConfigureAwait(false);
            return;
        }
        var length = RandomAccess.GetLength(file);
        // The same checks as Kestrel's copying path.
        if (offset < 0 || offset > length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, string.Empty);
        }
        if (count is { } c && (c < 0 || c > length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, string.Empty);
        }
        var bytes = count ?? length - offset;
        cancellationToken.ThrowIfCancellationRequested();

        await inner.StartAsync(cancellationToken).ConfigureAwait(false);
        if (WhyNotThisResponse() is { } reason)
        {
            // OnStarting callbacks changed the framing.
            await Fallback(reason, path, offset, count, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (bytes == 0)
        {
            return;
        }
        Interop.SendFile.Advise(file, offset, bytes, Interop.SendFile.POSIX_FADV_SEQUENTIAL);

        // The send loop sends the file once the pipe is empty, so what precedes it must be in the pipe.
        var body = inner.Writer;
        if ((await body.FlushAsync(cancellationToken).ConfigureAwait(false)).IsCompleted)
        {
            throw new ConnectionAbortedException("The connection closed before the file could be sent.");
        }

        var writer = connection.Writer;
        writer.BeginPlaceholders(bytes);
        try
        {
            for (var left = bytes; left > 0;)
            {
                var memory = body.GetMemory();
                var n = (int)Math.Min(memory.Length, left);
                body.Advance(n);
                left -= n;
            }
        }
        catch
        {
            writer.EndPlaceholders();
            throw;
        }
        if (writer.EndPlaceholders() != 0)
        {
            // Kestrel dropped them: the connection is already gone.
            cancellationToken.ThrowIfCancellationRequested();
            throw new ConnectionAbortedException("The connection closed before the file could be sent.");
        }

        var pending = new PendingFile(file, offset, bytes, connection.Connection);
        writer.Submit(pending);
        var rate = context.Features.Get<IHttpMinResponseDataRateFeature>();
        var minimum = rate?.MinDataRate;
        if (minimum is { BytesPerSecond: > 0 })
        {
            // Kestrel times a flush by the bytes it carries; these were advanced, not written, so
            // give this flush the time a write of the file's size would get.
            var needed = TimeSpan.FromSeconds(Math.Min(bytes / minimum.BytesPerSecond, s_maxGracePeriod.TotalSeconds));
            rate!.MinDataRate = new MinDataRate(minimum.BytesPerSecond, needed > minimum.GracePeriod ? needed : minimum.GracePeriod);
            connection.WatchRate(pending, minimum);
        }
        try
        {
            await body.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (minimum is { BytesPerSecond: > 0 })
            {
                rate!.MinDataRate = minimum;
            }
        }
        await pending.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (pending.Completion.IsCompletedSuccessfully)
        {
            return;
        }
        cancellationToken.ThrowIfCancellationRequested();
        ExceptionDispatchInfo.Throw(pending.Completion.Exception!.InnerException!);
    }
}
