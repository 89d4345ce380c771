using System.Diagnostics;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Internal;

namespace Transport.UnixNative.SendFile;

/// <summary>What a response body needs of its connection to send a file with sendfile(2).</summary>
internal sealed class SendFileConnectionFeature(UnixConnection connection, SendFileWriter? writer, ILogger logger)
{
    private FileRateWatch? _rateWatch;
    private bool _onHeartbeat;
    private SendFileResponseBody? _responseBody;

    public string ConnectionId => connection.ConnectionId;

    public ILogger Logger => logger;

    public UnixConnection Connection => connection;

    /// <summary>The connection's send-file writer (checked to be Kestrel's output by <see cref="WhyNot"/>).</summary>
    public SendFileWriter Writer => writer!;

    /// <summary>
    /// The sendfile body over <paramref name="inner"/> for <paramref name="context"/>'s request. On
    /// HTTP/1.x Kestrel serves every request of a connection with the same response body and
    /// HttpContext, so the last wrapper is reused when it wraps the same two (it holds nothing
    /// else); HTTP/2 streams get their own.
    /// </summary>
    public SendFileResponseBody ResponseBodyFor(IHttpResponseBodyFeature inner, HttpContext context)
    {
        if (Volatile.Read(ref _responseBody) is { } last && last.Wraps(inner, context))
        {
            return last;
        }
        var created = new SendFileResponseBody(inner, context, this);
        Volatile.Write(ref _responseBody, created);
        return created;
    }

    /// <summary>Why this request's file cannot go out with sendfile, or null if it can.</summary>
    public string? WhyNot(HttpRequest request)
    {
        if (writer is null)
        {
            return "seqpacket socket";
        }
        if (!HttpProtocol.IsHttp11(request.Protocol) && !HttpProtocol.IsHttp10(request.Protocol))
        {
            return request.Protocol;
        }
        // Connection middleware (TLS, logging, a test's wrapper) that replaced the transport sees
        // bytes Kestrel writes; a file sent beside it would bypass it.
        if (!ReferenceEquals(connection.Transport.Output, writer))
        {
            return "the connection's output is wrapped by connection middleware";
        }
        return null;
    }

    /// <summary>Closes the connection if the peer reads <paramref name="file"/> below <paramref name="rate"/> (application's thread).</summary>
    public void WatchRate(PendingFile file, MinDataRate rate)
    {
        Volatile.Write(ref _rateWatch, new FileRateWatch(file, rate, Stopwatch.GetTimestamp()));
        // Kestrel's once-a-second tick, the one that times its own writes; a callback cannot be removed, so one per connection.
        if (!_onHeartbeat && connection.Features.Get<IConnectionHeartbeatFeature>() is { } heartbeat)
        {
            _onHeartbeat = true;
            heartbeat.OnHeartbeat(static state => ((SendFileConnectionFeature)state).CheckRate(), this);
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
            TransportLog.SendFileTooSlow(logger, ConnectionId);
            connection.Abort(new ConnectionAbortedException("The connection was aborted because the response was not read by the client at the specified minimum data rate."));
        }
    }
}
