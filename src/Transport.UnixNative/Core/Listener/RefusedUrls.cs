using System.Collections.Concurrent;

namespace Transport.UnixNative.Core.Listener;

/// <summary>
/// Addresses refused while reading URLs: each becomes a marker path Kestrel binds to this transport,
/// and <see cref="UnixSocketAddress.Parse"/> then fails naming the reason. Here, below Hosting, so the
/// listener reads back what Hosting wrote without reaching up to it.
/// </summary>
internal static class RefusedUrls
{
    /// <summary>An address the transport refused, as a URL Kestrel binds to this transport, which then fails naming the reason.</summary>
    public const string InvalidUrlMarker = "/\0invalid\0";

    private static readonly ConcurrentDictionary<string, int> s_errorIds = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<int, string> s_errors = new();

    /// <summary>The URL Kestrel is given for a refused address: it binds to this transport, which fails with <paramref name="error"/>.</summary>
    public static string InvalidUrl(string scheme, string error)
    {
        var id = s_errorIds.GetOrAdd(error, static e =>
        {
            var next = s_errors.Count + 1;
            while (!s_errors.TryAdd(next, e))
            {
                next++;
            }
            return next;
        });
        return string.Concat(scheme, "://unix:", InvalidUrlMarker, id.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The reason recorded for an invalid marker path, or a generic one.</summary>
    public static string ErrorOf(string markerPath)
        => int.TryParse(markerPath.AsSpan(InvalidUrlMarker.Length), System.Globalization.CultureInfo.InvariantCulture, out var id) && s_errors.TryGetValue(id, out var error)
            ? error
            : "A configured unix socket URL was refused.";
}
