using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Transport.UnixNative.Core.Connection;

/// <summary>A connection that offers sendfile to its responses; the SendFile feature answers it for the connection.</summary>
internal interface ISendFileFeature
{
    /// <summary>The response body to put in front of Kestrel's <paramref name="inner"/> one for <paramref name="context"/>'s request.</summary>
    IHttpResponseBodyFeature ResponseBodyFor(IHttpResponseBodyFeature inner, HttpContext context);
}
