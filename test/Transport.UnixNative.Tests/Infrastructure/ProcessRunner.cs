using System.Diagnostics;

namespace Transport.UnixNative.Tests.Infrastructure;

internal sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs an outside program with a deadline; a program that overstays is killed (with its children), never left behind.</summary>
internal static class ProcessRunner
{
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(Tools.Require(fileName))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {fileName}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().Timeout(timeout ?? TimeoutExtensions.DefaultTimeoutValue);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().DefaultTimeout();
            throw new TimeoutException($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish in time; killed. stderr: {await stderr.DefaultTimeout()}");
        }
        return new ProcessResult(process.ExitCode, await stdout.DefaultTimeout(), await stderr.DefaultTimeout());
    }
}

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
