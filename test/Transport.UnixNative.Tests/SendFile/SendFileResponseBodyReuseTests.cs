using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Transport.UnixNative.SendFile;

namespace Transport.UnixNative.Tests.SendFile;

/// <summary>
/// The sendfile body is made once per connection, not per request: reused only while it wraps the
/// very body and HttpContext of the request at hand (HTTP/1.x), made anew for any other.
/// </summary>
public sealed class SendFileResponseBodyReuseTests
{
    [Fact]
    public void The_same_body_and_context_get_the_same_wrapper_and_any_other_pair_a_new_one()
    {
        var connection = new SendFileConnectionFeature(null!, writer: null, NullLogger.Instance);
        var context = new DefaultHttpContext();
        var body = context.Features.Get<IHttpResponseBodyFeature>()!;

        var first = connection.ResponseBodyFor(body, context);
        Assert.Same(first, connection.ResponseBodyFor(body, context));
        Assert.True(first.Wraps(body, context));

        var otherContext = new DefaultHttpContext();
        var forOtherContext = connection.ResponseBodyFor(body, otherContext);
        Assert.NotSame(first, forOtherContext);
        Assert.True(forOtherContext.Wraps(body, otherContext));

        var otherBody = otherContext.Features.Get<IHttpResponseBodyFeature>()!;
        var forOtherBody = connection.ResponseBodyFor(otherBody, otherContext);
        Assert.NotSame(forOtherContext, forOtherBody);
        Assert.True(forOtherBody.Wraps(otherBody, otherContext));
        Assert.False(forOtherBody.Wraps(body, otherContext));
    }
}
