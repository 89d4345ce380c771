using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Internal;

namespace Transport.UnixNative.SendFile;

/// <summary>What a response body needs of its connection to send a file with sendfile(2).</summary>
internal sealed class SendFileConnectionFeature(UnixConnection connection, SendFileWriter? writer, ILogger logger)
{
    public string ConnectionId => connection.ConnectionId;

    public ILogger Logger => logger;

    public UnixConnection Connection => connection;

    /// <summary>The connection's send-file writer (checked to be Kestrel's output by <see cref="WhyNot"/>).</summary>
    public SendFileWriter Writer => writer!;

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
}
