using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;

namespace Transport.UnixNative.Restart;

/// <summary>
/// An endpoint that names an activated socket by its fd name: <c>http://unix-fd:NAME</c> or
/// <c>ListenUnixActivated("NAME")</c>. Kestrel only passes unix endpoints as paths, so it travels as
/// the path <c>/\0fd\0NAME</c>, which no file can have (it ends at the first NUL).
/// </summary>
internal static class ActivatedEndPoint
{
    internal const string UrlMarker = "/\0fd\0";

    public static UnixDomainSocketEndPoint For(string fdName) => new(UrlMarker + fdName);

    public static bool TryGetFdName(UnixDomainSocketEndPoint endPoint, [NotNullWhen(true)] out string? fdName)
    {
        var text = endPoint.ToString();
        fdName = text.StartsWith(UrlMarker, StringComparison.Ordinal) ? text[UrlMarker.Length..] : null;
        return fdName is { Length: > 0 };
    }
}
