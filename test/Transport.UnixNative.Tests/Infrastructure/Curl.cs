namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>curl as an outside HTTP client over unix sockets.</summary>
internal static class Curl
{
    private const string StatusMarker = "\n--status:";

    /// <summary>GETs <paramref name="path"/>; <paramref name="socket"/> is a path or <c>@name</c>.</summary>
    public static async Task<(int Status, string Body)> GetAsync(string socket, string path, params string[] extra)
    {
        var args = new List<string> { "-sS", "--max-time", "20", "-w", StatusMarker + "%{http_code}" };
        if (socket.StartsWith('@'))
        {
            args.AddRange(["--abstract-unix-socket", socket[1..]]);
        }
        else
        {
            args.AddRange(["--unix-socket", socket]);
        }
        args.AddRange(extra);
        args.Add("http://localhost" + path);
        var result = await ProcessRunner.RunAsync("curl", args);
        var marker = result.StandardOutput.LastIndexOf(StatusMarker, StringComparison.Ordinal);
        if (result.ExitCode != 0 || marker < 0)
        {
            return (0, $"curl exit {result.ExitCode}: {result.StandardError}");
        }
        var status = int.Parse(result.StandardOutput.AsSpan(marker + StatusMarker.Length).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        return (status, result.StandardOutput[..marker]);
    }
}
