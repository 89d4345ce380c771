using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Net.Http.Headers;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.SendFile;

/// <summary>
/// Kestrel's HTTP/1.x response body with a zero-copy <c>SendFileAsync</c>: the headers and
/// anything written before are flushed, Kestrel counts the file's bytes as written (see the
/// placeholders), and the connection sends the range with sendfile(2). Whatever cannot take that
/// path (chunked or bodiless responses, a wrapped transport, not a regular file) gets Kestrel's own
/// copying <c>SendFileAsync</c>. Kestrel serves every HTTP/1.x request of a connection one after
/// the other, so the writer itself is the body of the request being served (see <see cref="ResponseBodyFor"/>).
/// </summary>
/// <remarks>Explicit members only: a PipeWriter's <c>CompleteAsync</c> and a body's are not the same thing.</remarks>
internal sealed partial class SendFileWriter : IHttpResponseBodyFeature, ISendFileFeature
{
    // A flush's allowance under MinResponseDataRate never needs to exceed this.
    private static readonly TimeSpan s_maxGracePeriod = TimeSpan.FromDays(7);

    // The request being served: Kestrel's body and the context it belongs to.
    private IHttpResponseBodyFeature? _body;
    private HttpContext? _context;

    private FileRateWatch? _rateWatch;

    /// <summary>This writer as the body over <paramref name="inner"/> for <paramref name="context"/>'s HTTP/1.x request.</summary>
    public IHttpResponseBodyFeature ResponseBodyFor(IHttpResponseBodyFeature inner, HttpContext context)
    {
        if (!HttpProtocol.IsHttp11(context.Request.Protocol) && !HttpProtocol.IsHttp10(context.Request.Protocol))
        {
            // HTTP/2 streams interleave on the connection: no file can go out beside them.
            return new CopyingResponseBody(inner, context.Request.Protocol, _connection);
        }
        _body = inner;
        _context = context;
        return this;
    }

    Stream IHttpResponseBodyFeature.Stream => _body!.Stream;

    PipeWriter IHttpResponseBodyFeature.Writer => _body!.Writer;

    void IHttpResponseBodyFeature.DisableBuffering() => _body!.DisableBuffering();

    Task IHttpResponseBodyFeature.StartAsync(CancellationToken cancellationToken) => _body!.StartAsync(cancellationToken);

    Task IHttpResponseBodyFeature.CompleteAsync() => _body!.CompleteAsync();

    Task IHttpResponseBodyFeature.SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken)
    {
        var inner = _body!;
        var context = _context!;
        var reason = WhyNot(context.Request) ?? WhyNotThisResponse(context);
        if (reason is not null)
        {
            return Fallback(inner, reason, path, offset, count, cancellationToken);
        }
        return SendWithSendFileAsync(inner, context, path, offset, count, cancellationToken);
    }

    private Task Fallback(IHttpResponseBodyFeature inner, string reason, string path, long offset, long? count, CancellationToken cancellationToken)
    {
        TransportLog.SendFileFallback(_connection.Logger, _connection.ConnectionId, reason);
        return inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    /// <summary>Why this request's file cannot go out with sendfile, or null if it can.</summary>
    private string? WhyNot(HttpRequest request)
    {
        if (!HttpProtocol.IsHttp11(request.Protocol) && !HttpProtocol.IsHttp10(request.Protocol))
        {
            return request.Protocol;
        }
        // Connection middleware (TLS, logging, a test's wrapper) that replaced the transport sees
        // bytes Kestrel writes; a file sent beside it would bypass it.
        if (!ReferenceEquals(_connection.Transport.Output, this))
        {
            return "the connection's output is wrapped by connection middleware";
        }
        return null;
    }

    /// <summary>Only an identity body of known length can carry raw file bytes.</summary>
    private static string? WhyNotThisResponse(HttpContext context)
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

    private async Task SendWithSendFileAsync(IHttpResponseBodyFeature inner, HttpContext context, string path, long offset, long? count, CancellationToken cancellationToken)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (!Interop.SendFile.IsRegularFile(file))
        {
            // A device linked into a served directory: its length reads as 0, the copying path reads what was promised.
            file.Dispose();
            await Fallback(inner, "not a regular file", path, offset, count, cancellationToken).ConfigureAwait(false);
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
        if (WhyNotThisResponse(context) is { } reason)
        {
            // OnStarting callbacks changed the framing.
            await Fallback(inner, reason, path, offset, count, cancellationToken).ConfigureAwait(false);
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

        BeginPlaceholders(bytes);
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
            EndPlaceholders();
            throw;
        }
        if (EndPlaceholders() != 0)
        {
            // Kestrel dropped them: the connection is already gone.
            cancellationToken.ThrowIfCancellationRequested();
            throw new ConnectionAbortedException("The connection closed before the file could be sent.");
        }

        var pending = new PendingFile(file, offset, bytes, _connection);
        Submit(pending);
        var rate = context.Features.Get<IHttpMinResponseDataRateFeature>();
        var minimum = rate?.MinDataRate;
        if (minimum is { BytesPerSecond: > 0 })
        {
            // Kestrel times a flush by the bytes it carries; these were advanced, not written, so
            // give this flush the time a write of the file's size would get.
            var needed = TimeSpan.FromSeconds(Math.Min(bytes / minimum.BytesPerSecond, s_maxGracePeriod.TotalSeconds));
            rate!.MinDataRate = new MinDataRate(minimum.BytesPerSecond, needed > minimum.GracePeriod ? needed : minimum.GracePeriod);
            WatchRate(pending, minimum);
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

    /// <summary>Closes the connection if the peer reads <paramref name="file"/> below <paramref name="rate"/> (application's thread).</summary>
    private void WatchRate(PendingFile file, MinDataRate rate)
    {
        Volatile.Write(ref _rateWatch, new FileRateWatch(file, rate, Stopwatch.GetTimestamp()));
        // Kestrel's once-a-second tick, the one that times its own writes; a callback cannot be removed, so one per connection.
        if (!_connection.SendFileOnHeartbeat && _connection.Features.Get<IConnectionHeartbeatFeature>() is { } heartbeat)
        {
            _connection.SendFileOnHeartbeat = true;
            heartbeat.OnHeartbeat(static state => ((SendFileWriter)state).CheckRate(), this);
        }
    }

    private void CheckRate()
    {
        if (Volatile.Read(ref _rateWatch) is not { } watch)
        {
            return;
        }
        if (watch.File.Completion.IsCompleted)
        {
            Interlocked.CompareExchange(ref _rateWatch, null, watch);
            return;
        }
        if (watch.IsTooSlow(Stopwatch.GetTimestamp()) && Interlocked.CompareExchange(ref _rateWatch, null, watch) == watch)
        {
            TransportLog.SendFileTooSlow(_connection.Logger, _connection.ConnectionId);
            _connection.Abort(new ConnectionAbortedException("The connection was aborted because the response was not read by the client at the specified minimum data rate."));
        }
    }
}
