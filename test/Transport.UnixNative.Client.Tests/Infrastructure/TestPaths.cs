namespace Transport.UnixNative.Client.Tests.Infrastructure;

/// <summary>Unique, short names: sun_path holds 107 bytes, and parallel tests must never share a socket.</summary>
internal static class TestPaths
{
    public static string NewSocketPath() => $"/tmp/un-{Hex()}.sock";

    /// <summary>An abstract address as the client writes it: <c>@un-1a2b3c4d</c>.</summary>
    public static string NewAbstractAddress() => $"@un-{Hex()}";

    /// <summary>A fresh directory under /tmp, readable by everyone (nginx workers, other users).</summary>
    public static string NewDirectory()
    {
        var path = $"/tmp/un-{Hex()}";
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    /// <summary>The percent-encoded host part of an http+unix URL.</summary>
    public static string UrlHost(string address) => Uri.EscapeDataString(address);

    /// <summary>An http+unix URL; registers the schemes with <see cref="Uri"/> (process-wide) so it parses.</summary>
    public static string UnixUrl(string address, string pathAndQuery)
    {
        UnixSocketHttpHandler.RegisterUriSchemes();
        return $"http+unix://{UrlHost(address)}{pathAndQuery}";
    }

    public static string SeqpacketUrl(string address, string pathAndQuery)
    {
        UnixSocketHttpHandler.RegisterUriSchemes();
        return $"http+unix+seqpacket://{UrlHost(address)}{pathAndQuery}";
    }

    public static void DeleteQuietly(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else
            {
                File.Delete(path);
            }
        }
        catch (IOException)
        {
        }
    }

    private static string Hex() => Guid.NewGuid().ToString("N")[..8];
}
