namespace Transport.UnixNative.Testing;

/// <summary>
/// A fact that needs outside programs. It skips, with the reason shown, only when a program is missing
/// and CI is unset; in CI (CI=true, tools installed by .ci/run) it always runs, so a missing tool fails.
/// </summary>
public sealed class ToolFactAttribute : FactAttribute
{
    public ToolFactAttribute(params string[] tools)
    {
        Skip = Tools.SkipReason(tools);
    }
}

/// <inheritdoc cref="ToolFactAttribute"/>
public sealed class ToolTheoryAttribute : TheoryAttribute
{
    public ToolTheoryAttribute(params string[] tools)
    {
        Skip = Tools.SkipReason(tools);
    }
}

internal static class Tools
{
    public static bool IsCI => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    public static string? SkipReason(string[] tools)
        => IsCI || Missing(tools) is not { } missing ? null
            : $"needs {missing} on PATH (CI installs them via .ci/run; under CI=true this test runs and fails instead of skipping)";

    /// <summary>The tools not found, comma-separated, or null when all are there.</summary>
    public static string? Missing(params string[] tools)
    {
        var missing = tools.Where(t => Find(t) is null).ToArray();
        return missing.Length == 0 ? null : string.Join(", ", missing);
    }

    /// <summary>The tool's full path on PATH (or in /usr/sbin, /sbin, where nginx lives), or null.</summary>
    public static string? Find(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
                     .Concat(["/usr/sbin", "/sbin"]))
        {
            var candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>The tool's full path; a missing tool is a failure (for CI, where skipping is not allowed).</summary>
    public static string Require(string tool) => Find(tool) ?? throw new InvalidOperationException($"'{tool}' is not on PATH (CI installs it via .ci/run).");
}
