using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.SendFile;

/// <summary>Gives a new connection its sendfile feature, before it starts (the loops call it for every connection when UseSendFile is on).</summary>
internal static class SendFileAttachment
{
    public static void Attach(UnixConnection connection)
    {
        if (connection.CanSendFile)
        {
            var writer = new SendFileWriter(connection);
            connection.EnableSendFile(writer, writer);
        }
        else
        {
            // Seqpacket sockets cannot take sendfile; their responses keep the copying path.
            connection.EnableSendFile(new CopyingOnly(connection), writer: null);
        }
    }

    private sealed class CopyingOnly(UnixConnection connection) : ISendFileFeature
    {
        public IHttpResponseBodyFeature ResponseBodyFor(IHttpResponseBodyFeature inner, HttpContext context)
            => new CopyingResponseBody(inner, "seqpacket socket", connection);
    }
}
