using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.SendFile;

namespace Transport.UnixNative.Tests.SendFile;

/// <summary>
/// No sendfile body object per connection or per HTTP/1.x request: the connection's send-file
/// writer is the body of the request it serves, over that request's own Kestrel body. HTTP/2
/// streams, which run side by side, get one each.
/// </summary>
public sealed class SendFileResponseBodyTests : IDisposable
{
    private readonly DetachedConnections _connections = new();

    public void Dispose() => _connections.Dispose();

    private static (HttpContext Context, IHttpResponseBodyFeature Body) Request(string protocol)
    {
        var context = new DefaultHttpContext();
        context.Request.Protocol = protocol;
        return (context, context.Features.Get<IHttpResponseBodyFeature>()!);
    }

    [Fact]
    public void Http1Requests_AreServedByTheWriterItself_OverTheirOwnBody()
    {
        var connection = _connections.Create(out _);
        SendFileAttachment.Attach(connection);
        var sendFile = connection.Features.Get<ISendFileFeature>()!;
        var writer = connection.Transport.Output;
        Assert.IsType<SendFileWriter>(writer);

        var (first, firstBody) = Request(HttpProtocol.Http11);
        var forFirst = sendFile.ResponseBodyFor(firstBody, first);
        Assert.Same(writer, forFirst);
        Assert.Same(firstBody.Writer, forFirst.Writer);
        Assert.Same(firstBody.Stream, forFirst.Stream);

        var (second, secondBody) = Request(HttpProtocol.Http10);
        var forSecond = sendFile.ResponseBodyFor(secondBody, second);
        Assert.Same(writer, forSecond);
        Assert.Same(secondBody.Writer, forSecond.Writer);
    }

    [Fact]
    public void Http2Streams_GetABodyEach_ThatCopies()
    {
        var connection = _connections.Create(out _);
        SendFileAttachment.Attach(connection);
        var sendFile = connection.Features.Get<ISendFileFeature>()!;
        var (a, aBody) = Request(HttpProtocol.Http2);
        var (b, bBody) = Request(HttpProtocol.Http2);

        var forA = sendFile.ResponseBodyFor(aBody, a);
        var forB = sendFile.ResponseBodyFor(bBody, b);
        Assert.IsType<CopyingResponseBody>(forA);
        Assert.NotSame(forA, forB);
        Assert.Same(aBody.Writer, forA.Writer);
        Assert.Same(bBody.Writer, forB.Writer);
    }
}
