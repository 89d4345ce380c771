using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.SendFile;

/// <summary>
/// Kestrel's response body where sendfile cannot serve any file of the request (a seqpacket socket,
/// an HTTP/2 stream): files take Kestrel's copying path, and the log says why. HTTP/2 streams run
/// side by side, so each gets its own.
/// </summary>
internal sealed class CopyingResponseBody(IHttpResponseBodyFeature inner, string reason, UnixConnection connection) : IHttpResponseBodyFeature
{
    public Stream Stream => inner.Stream;

    public PipeWriter Writer => inner.Writer;

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task CompleteAsync() => inner.CompleteAsync();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        TransportLog.SendFileFallback(connection.Logger, connection.ConnectionId, reason);
        return inner.SendFileAsync(path, offset, count, cancellationToken);
    }
}
