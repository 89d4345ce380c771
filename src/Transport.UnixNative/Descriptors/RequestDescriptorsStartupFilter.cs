using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.Descriptors;

/// <summary>
/// Draws the request boundary for received descriptors, outermost in the pipeline. An HTTP/1.x
/// connection handles one request at a time and consumes its bytes in order, so the descriptors of
/// bytes consumed while a request runs are that request's. When it ends, its untaken descriptors are
/// closed. A request with a body first has its response completed and then the rest of its body read
/// (which Kestrel would discard before the next request anyway), so that descriptors sent with body
/// bytes end with it too.
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
            if (context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: true })
            {
                return RunWithBodyAsync(next, context, descriptors);
            }
            if (descriptors.IsEmpty)
            {
                // Nothing queued: a request without a body consumes no more input while it runs, so
                // nothing that arrives meanwhile can be its own (the usual case, and nothing to close after).
                return next(context);
            }
            var running = next(context);
            if (running.IsCompletedSuccessfully)
            {
                descriptors.CloseConsumed();
                return running;
            }
            return CloseWhenDoneAsync(running, descriptors);
        });
        next(app);
    };

    private static async Task CloseWhenDoneAsync(Task running, ReceivedDescriptors descriptors)
    {
        try
        {
            await running.ConfigureAwait(false);
        }
        finally
        {
            descriptors.CloseConsumed();
        }
    }

    private static async Task RunWithBodyAsync(RequestDelegate next, HttpContext context, ReceivedDescriptors descriptors)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch
        {
            // Kestrel answers 500 after this; the body still must not hand its descriptors to the next request.
            await ReadRestOfBodyAsync(context).ConfigureAwait(false);
            descriptors.CloseConsumed();
            throw;
        }
        // The client has its response first; only then is the rest of the body read. Not for a client
        // that left: completing checks the Content-Length, and a response cut short by the departure
        // would be reported as the application's error (Kestrel itself skips that check once aborted).
        if (!context.RequestAborted.IsCancellationRequested
            && context.Features.Get<IConnectionLifetimeFeature>()?.ConnectionClosed.IsCancellationRequested != true)
        {
            await context.Response.CompleteAsync().ConfigureAwait(false);
        }
        await ReadRestOfBodyAsync(context).ConfigureAwait(false);
        descriptors.CloseConsumed();
    }

    private static async Task ReadRestOfBodyAsync(HttpContext context)
    {
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
            // The body cannot be read (aborted, too large, completed by the handler): the connection ends, closing the rest.
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
