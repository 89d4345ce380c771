using System.Security.Cryptography;

namespace Transport.UnixNative.Testing;

/// <summary>Short unique socket addresses: sun_path holds 107 bytes, and parallel tests must never share a socket.</summary>
internal static class TestPaths
{
    public static string Hex8() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    /// <summary><c>/tmp/un-&lt;8hex&gt;.sock</c>; nothing exists there yet.</summary>
    public static string SocketPath() => $"/tmp/un-{Hex8()}.sock";

    /// <summary>An abstract name <c>un-&lt;8hex&gt;</c> (without the <c>@</c>).</summary>
    public static string AbstractName() => $"un-{Hex8()}";

    /// <summary>An abstract address as clients write it: <c>@un-&lt;8hex&gt;</c>.</summary>
    public static string AbstractAddress() => "@" + AbstractName();

    /// <summary>A fresh directory under /tmp, readable by everyone (nginx workers, other users).</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static string NewDirectory()
    {
        var path = $"/tmp/un-{Hex8()}";
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    /// <summary>The percent-encoded host part of an http+unix URL.</summary>
    public static string UrlHost(string address) => Uri.EscapeDataString(address);

    /// <summary>An http+unix URL; registers the schemes with <see cref="Uri"/> (process-wide) so it parses.</summary>
    public static string UnixUrl(string address, string pathAndQuery)
    {
        Client.UnixSocketHttpHandler.RegisterUriSchemes();
        return $"http+unix://{UrlHost(address)}{pathAndQuery}";
    }

    public static string SeqpacketUrl(string address, string pathAndQuery)
    {
        Client.UnixSocketHttpHandler.RegisterUriSchemes();
        return $"http+unix+seqpacket://{UrlHost(address)}{pathAndQuery}";
    }

    public static void DeleteQuietly(string path)
    {
        try
        {
            if (Directory.Exists(path) && !File.Exists(path))
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
}

/// <summary>Deletes the paths it was given when disposed, so every test leaves /tmp as it found it.</summary>
internal sealed class TempPaths : IDisposable
{
    private readonly List<string> _paths = [];

    public string SocketPath()
    {
        var path = TestPaths.SocketPath();
        _paths.Add(path);
        return path;
    }

    public string Add(string path)
    {
        _paths.Add(path);
        return path;
    }

    public void Dispose()
    {
        foreach (var path in _paths)
        {
            TestPaths.DeleteQuietly(path);
        }
    }
}
