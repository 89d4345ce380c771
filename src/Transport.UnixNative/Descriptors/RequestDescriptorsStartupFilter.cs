using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Transport.UnixNative.Internal;

/// <summary>
/// Draws the request boundary for received descriptors, outermost in the pipeline. An HTTP/1.x
/// connection handles one request at a time and consumes its bytes in order, so the descriptors of
/// bytes consumed while a request runs are that request's. When it ends, the rest of its body is
/// read (Kestrel would discard it before the next request anyway) and its untaken descriptors are
/// closed: what is left belongs to later requests.
/// </summary>
internal sealed class RequestDescriptorsStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(static next => context =>
        {
            if (context.Features.Get<IUnixFileDescriptorsFeature>() is not ReceivedDescriptors descriptors)
            {
                return next(context);
            }
            if (!HttpProtocol.IsHttp11(context.Request.Protocol) && !HttpProtocol.IsHttp10(context.Request.Protocol))
            {
                // HTTP/2 streams interleave: no descriptor can be attributed to one of them.
                context.Features.Set<IUnixFileDescriptorsFeature>(NoDescriptors.Instance);
                return next(context);
            }
            return RunAsync(next, context, descriptors);
        });
        next(app);
    };

    private static async Task RunAsync(RequestDelegate next, HttpContext context, ReceivedDescriptors descriptors)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            await FinishBodyAsync(context).ConfigureAwait(false);
            descriptors.CloseConsumed();
        }
    }

    /// <summary>Consumes what the handler left of the body, so descriptors sent with it end with this request.</summary>
    private static async ValueTask FinishBodyAsync(HttpContext context)
    {
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true })
        {
            return; // an upgraded connection carries no further requests
        }
        try
        {
            var body = context.Request.BodyReader;
            while (true)
            {
                var result = body.TryRead(out var read) ? read : await body.ReadAsync(context.RequestAborted).ConfigureAwait(false);
                body.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or IOException or BadHttpRequestException)
        {
            // The body cannot be read (aborted, too large, already completed): the connection ends, closing the rest.
        }
    }

    private sealed class NoDescriptors : IUnixFileDescriptorsFeature
    {
        public static readonly NoDescriptors Instance = new();

        public int Count => 0;

        public System.Runtime.InteropServices.SafeHandle? TryTake() => null;

        public IReadOnlyList<System.Runtime.InteropServices.SafeHandle> TakeAll() => [];
    }
}
