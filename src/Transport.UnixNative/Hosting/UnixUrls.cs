using System.Collections.Concurrent;
using System.Text;
using Transport.UnixNative.Core.Listener;
using Transport.UnixNative.Restart;

namespace Transport.UnixNative.Hosting;

/// <summary>
/// What a URL means to the transport, wherever it comes from (<c>--urls</c>, <c>Kestrel:Endpoints:*:Url</c>).
/// Kestrel understands only <c>scheme://unix:/path</c>; it reads <c>unix:@name</c>, <c>unix-seqpacket:…</c>,
/// <c>unix-fd:NAME</c> or <c>unix:relative</c> as a host name and listens on TCP port 80 of every interface
/// (or fails with an unrelated path-base error). So every URL whose host is <c>unix</c>,
/// <c>unix-seqpacket</c> or <c>unix-fd</c> is either rewritten to a <c>unix:/</c> marker form that
/// <see cref="UnixSocketAddress"/> reads back, or refused: it never reaches Kestrel as a TCP address.
/// </summary>
internal static class UnixUrls
{
    // sun_path as UnixDomainSocketEndPoint checks a (non-abstract) path: 108 bytes with the NUL.
    private const int EndPointPathBytes = 107;


    /// <summary>How a URL reads: not ours, ours (with the URL Kestrel should see), or ours but unservable.</summary>
    public readonly record struct Reading(bool IsUnix, string Url, string? Error)
    {
        public bool IsValid => IsUnix && Error is null;
    }

    /// <summary>Reads <paramref name="url"/>; <see cref="Reading.Url"/> is what Kestrel should be given (unchanged if not ours).</summary>
    public static Reading Read(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var separator = url.IndexOf("://", StringComparison.Ordinal);
        if (separator < 0)
        {
            return new(false, url, null);
        }
        var hostStart = separator + 3;
        var hostEnd = url.IndexOfAny([':', '/', '?', '#'], hostStart);
        var host = hostEnd < 0 ? url[hostStart..] : url[hostStart..hostEnd];
        var scheme = url[..separator];
        var kind = host.ToUpperInvariant() switch
        {
            "UNIX" => "unix",
            "UNIX-SEQPACKET" => "unix-seqpacket",
            "UNIX-FD" => "unix-fd",
            _ => null,
        };
        if (kind is null)
        {
            return new(false, url, null);
        }
        if (hostEnd < 0 || url[hostEnd] != ':')
        {
            return Refuse(url, kind == "unix-fd"
                ? $"'{url}' names no activated socket: write {scheme}://unix-fd:NAME (the socket's FileDescriptorName=)."
                : $"'{url}' names no unix socket: write {scheme}://{kind}:/absolute/path or {scheme}://{kind}:@name.");
        }
        var target = url[(hostEnd + 1)..];
        var prefix = string.Concat(scheme, "://unix:");
        try
        {
            switch (kind)
            {
                case "unix-fd":
                    var fdName = target.TrimEnd('/');
                    if (fdName.Length == 0 || fdName.Contains(':') || fdName.Contains('/'))
                    {
                        return Refuse(url, $"'{url}' names no activated socket: write {scheme}://unix-fd:NAME (the socket's FileDescriptorName=).");
                    }
                    return Marked(url, prefix, ActivatedEndPoint.UrlMarker + fdName);
                case "unix-seqpacket":
                    var seqpacket = target.StartsWith('@') ? "@" + target[1..].TrimEnd('/') : target;
                    NoColon(url, seqpacket);
                    UnixSocketAddress.Parse(seqpacket, isSeqpacket: true);
                    return Marked(url, prefix, UnixSocketAddress.SeqpacketUrlMarker + seqpacket);
                default:
                    if (target.StartsWith(UnixSocketAddress.AbstractUrlMarker, StringComparison.Ordinal))
                    {
                        // Already in the marker form (read twice, or written by this class).
                        return target.StartsWith(RefusedUrls.InvalidUrlMarker, StringComparison.Ordinal)
                            ? new(true, url, RefusedUrls.ErrorOf(target))
                            : new(true, url, null);
                    }
                    if (target.StartsWith('@'))
                    {
                        var name = target[1..].TrimEnd('/');
                        NoColon(url, name);
                        UnixSocketAddress.Parse("@" + name, isSeqpacket: false);
                        return Marked(url, prefix, UnixSocketAddress.AbstractUrlMarker + name);
                    }
                    NoColon(url, target);
                    UnixSocketAddress.Parse(target, isSeqpacket: false);
                    return new(true, url, null);
            }
        }
        catch (ArgumentException e)
        {
            return Refuse(url, e.Message);
        }
    }

    /// <summary>
    /// The URL to give Kestrel for <paramref name="url"/>, read from configuration key <paramref name="key"/>:
    /// rewritten if ours, unchanged if not, and for an address the transport cannot serve a URL that
    /// binds to this transport and fails naming the key (never a TCP listener).
    /// </summary>
    public static string ForKestrel(string url, string key)
    {
        var reading = Read(url);
        if (reading.Error is null)
        {
            return reading.Url;
        }
        return RefusedUrls.InvalidUrl(url[..url.IndexOf("://", StringComparison.Ordinal)], $"{key}: {reading.Error}");
    }

    /// <summary>A marker-form URL as it was written (<c>http://unix:@name</c>, <c>http://unix-seqpacket:/p</c>, <c>http://unix-fd:NAME</c>).</summary>
    public static string Describe(string url)
    {
        var at = url.IndexOf("://unix:", StringComparison.OrdinalIgnoreCase);
        if (at < 0)
        {
            return url;
        }
        var scheme = url[..at];
        var path = url[(at + "://unix:".Length)..];
        if (path.StartsWith(RefusedUrls.InvalidUrlMarker, StringComparison.Ordinal))
        {
            return $"{scheme}://unix:(refused: {RefusedUrls.ErrorOf(path)})";
        }
        if (path.StartsWith(ActivatedEndPoint.UrlMarker, StringComparison.Ordinal))
        {
            return $"{scheme}://unix-fd:{path[ActivatedEndPoint.UrlMarker.Length..]}";
        }
        if (path.StartsWith(UnixSocketAddress.SeqpacketUrlMarker, StringComparison.Ordinal))
        {
            return $"{scheme}://unix-seqpacket:{path[UnixSocketAddress.SeqpacketUrlMarker.Length..]}";
        }
        if (path.StartsWith(UnixSocketAddress.AbstractUrlMarker, StringComparison.Ordinal))
        {
            return $"{scheme}://unix:@{path[UnixSocketAddress.AbstractUrlMarker.Length..]}";
        }
        return url;
    }

    private static Reading Refuse(string url, string error) => new(true, url, error);

    private static Reading Marked(string url, string prefix, string path)
    {
        // UnixDomainSocketEndPoint carries the marker as a path: it must fit sun_path too.
        var bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > EndPointPathBytes)
        {
            return Refuse(url, $"'{url}' is too long to pass through a URL ({bytes - EndPointPathBytes} bytes over); " +
                "use a shorter address, or ListenUnixSocket/ListenUnixAbstract/ListenUnixSeqpacket in code.");
        }
        return new(true, prefix + path, null);
    }

    private static void NoColon(string url, string address)
    {
        // Kestrel ends a unix URL's path at the first ':' (what follows would be a path base).
        if (address.Contains(':'))
        {
            throw new ArgumentException($"'{url}': a unix socket address in a URL cannot contain ':'; use ListenUnixSocket or ListenUnixAbstract in code.");
        }
    }
}
