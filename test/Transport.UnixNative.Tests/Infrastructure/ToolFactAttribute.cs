using System.Runtime.CompilerServices;

namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>
/// A fact that needs an external program. It skips with a visible reason only when the program is
/// missing and CI is unset; in CI (CI=true) a missing tool makes the test run and fail.
/// </summary>
public sealed class ToolFactAttribute : FactAttribute
{
    public ToolFactAttribute(params string[] tools)
    {
        foreach (var tool in tools)
        {
            if (Tools.Find(tool) is null && !Tools.IsCI)
            {
                Skip = $"'{tool}' is not on PATH (install it; under CI=true this test runs and fails instead of skipping).";
                return;
            }
        }
    }
}

/// <inheritdoc cref="ToolFactAttribute"/>
public sealed class ToolTheoryAttribute : TheoryAttribute
{
    public ToolTheoryAttribute(params string[] tools)
    {
        foreach (var tool in tools)
        {
            if (Tools.Find(tool) is null && !Tools.IsCI)
            {
                Skip = $"'{tool}' is not on PATH (install it; under CI=true this test runs and fails instead of skipping).";
                return;
            }
        }
    }
}

internal static class Tools
{
    public static bool IsCI => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    public static string? Find(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>The tool's full path, or a failure that says it is missing (for CI, where skipping is not allowed).</summary>
    public static string Require(string tool) => Find(tool) ?? throw new InvalidOperationException($"'{tool}' is not on PATH.");
}
