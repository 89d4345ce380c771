using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Transport.UnixNative.SendFile;

/// <summary>A connection that offers sendfile to its responses (answered by the connection itself).</summary>
internal interface ISendFileFeature
{
    /// <summary>The response body to put in front of Kestrel's <paramref name="inner"/> one for <paramref name="context"/>'s request.</summary>
    IHttpResponseBodyFeature ResponseBodyFor(IHttpResponseBodyFeature inner, HttpContext context);
}
