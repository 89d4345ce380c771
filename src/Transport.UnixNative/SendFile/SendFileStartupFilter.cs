using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.SendFile;

/// <summary>
/// Puts the sendfile response body in front of Kestrel's for requests on connections that offer
/// sendfile, first in the pipeline: middleware added by the application (response compression,
/// body wrappers) wraps it, so their own <c>SendFileAsync</c> decides. Kestrel resets a request's
/// features, so the wrapper is set for each request; on HTTP/1.x it is the connection's
/// <see cref="SendFileWriter"/> itself (see <see cref="ISendFileFeature.ResponseBodyFor"/>).
/// </summary>
internal sealed class SendFileStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(static (context, nextMiddleware) =>
        {
            if (context.Features.Get<ISendFileFeature>() is { } connection
                && context.Features.Get<IHttpResponseBodyFeature>() is { } body)
            {
                context.Features.Set<IHttpResponseBodyFeature>(connection.ResponseBodyFor(body, context));
            }
            return nextMiddleware(context);
        });
        next(app);
    };
}
