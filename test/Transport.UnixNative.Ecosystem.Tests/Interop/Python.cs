using System.Diagnostics;

namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>/usr/bin/python3 with Debian's modules (python3-httpx, python3-aiohttp, python3-websockets).</summary>
internal static class Python
{
    public const string Path = "/usr/bin/python3";

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> s_modules = new();

    public static bool Has(string module) => s_modules.GetOrAdd(module, static m =>
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(Path, ["-c", "import " + m]) { RedirectStandardError = true, UseShellExecute = false });
            return process is not null && process.WaitForExit(20_000) && process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    });

    /// <summary>Runs <paramref name="script"/> with <paramref name="arguments"/>; a non-zero exit fails the test with Python's stderr.</summary>
    public static async Task<string> RunAsync(string script, params string[] arguments)
    {
        var result = await ProcessRunner.RunAsync(Path, ["-c", script, .. arguments]);
        Assert.True(result.ExitCode == 0, $"python3 exit {result.ExitCode}:\n{result.StandardError}\n{result.StandardOutput}");
        return result.StandardOutput.Trim();
    }

    /// <summary>Starts a long-running script (a server) as an <see cref="ExternalProcess"/>.</summary>
    public static ExternalProcess Start(string script, params string[] arguments)
        => ExternalProcess.Start(Path, ["-u", "-c", script, .. arguments]);
}

/// <summary>A theory needing python3 modules; skips (with the reason) only when one is missing and CI is unset.</summary>
public sealed class PythonTheoryAttribute : TheoryAttribute
{
    public PythonTheoryAttribute(params string[] modules)
    {
        foreach (var module in modules)
        {
            if (!Tools.IsCI && !Python.Has(module))
            {
                Skip = $"{Python.Path} cannot import {module} (apt-get install python3-{module}; under CI=true this test runs and fails instead).";
                return;
            }
        }
    }
}

/// <inheritdoc cref="PythonTheoryAttribute"/>
public sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute(params string[] modules)
    {
        foreach (var module in modules)
        {
            if (!Tools.IsCI && !Python.Has(module))
            {
                Skip = $"{Python.Path} cannot import {module} (apt-get install python3-{module}; under CI=true this test runs and fails instead).";
                return;
            }
        }
    }
}
