using System.Diagnostics;

namespace Transport.UnixNative.Tests.Seqpacket;

/// <summary>Python 3's socket module as an outside seqpacket peer (it speaks AF_UNIX/SOCK_SEQPACKET natively).</summary>
internal static class PythonPeer
{
    public static bool IsAvailable { get; } = Which("python3");

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/>; returns stdout, throws with stderr on failure.</summary>
    public static async Task<string> RunAsync(string script, params string[] args)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        var output = await stdout.WaitAsync(TimeSpan.FromSeconds(10));
        var errors = await stderr.WaitAsync(TimeSpan.FromSeconds(10));
        if (process.ExitCode != 0)
        {
            throw new Xunit.Sdk.XunitException($"python3 exited {process.ExitCode}: {errors}\n{output}");
        }
        return output;
    }

    private static bool Which(string tool) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries).Any(dir => File.Exists(Path.Combine(dir, tool)));
}

/// <summary>A fact that needs python3: skipped with a reason only outside CI; in CI it always runs.</summary>
internal sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute()
    {
        var inCi = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));
        if (inCi)
        {
            return;
        }
        if (!PythonPeer.IsAvailable)
        {
            Skip = "python3 is not installed (CI installs it and runs this test).";
        }
    }
}
