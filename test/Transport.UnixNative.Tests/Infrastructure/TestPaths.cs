using System.Security.Cryptography;

namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>Short unique socket addresses: sun_path holds 107 bytes, so test paths stay far below it.</summary>
internal static class TestPaths
{
    public static string Hex8() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    /// <summary><c>/tmp/un-&lt;8hex&gt;.sock</c>; nothing exists there yet.</summary>
    public static string SocketPath() => $"/tmp/un-{Hex8()}.sock";

    /// <summary>An abstract name <c>un-&lt;8hex&gt;</c> (without the <c>@</c>).</summary>
    public static string AbstractName() => $"un-{Hex8()}";

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
