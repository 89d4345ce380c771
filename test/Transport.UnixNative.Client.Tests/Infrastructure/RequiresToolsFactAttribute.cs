namespace Transport.UnixNative.Client.Tests.Infrastructure;

/// <summary>
/// A fact that needs outside programs. It skips, with the reason shown, only when a program is missing
/// and CI is unset; in CI (CI=true, tools installed by .ci/run) it always runs, so a missing tool fails.
/// </summary>
public sealed class RequiresToolsFactAttribute : FactAttribute
{
    public RequiresToolsFactAttribute(params string[] tools)
    {
        Skip = Tools.SkipReason(tools);
    }
}

/// <inheritdoc cref="RequiresToolsFactAttribute"/>
public sealed class RequiresToolsTheoryAttribute : TheoryAttribute
{
    public RequiresToolsTheoryAttribute(params string[] tools)
    {
        Skip = Tools.SkipReason(tools);
    }
}

internal static class Tools
{
    public static bool InCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    public static string? SkipReason(string[] tools)
    {
        var missing = tools.Where(t => Find(t) is null).ToArray();
        return missing.Length == 0 || InCi ? null : $"needs {string.Join(", ", missing)} on PATH (CI installs them via .ci/run)";
    }

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

    /// <summary>The tool's full path; in CI a missing tool is a failure, not a skip.</summary>
    public static string Require(string tool)
        => Find(tool) ?? throw new InvalidOperationException($"'{tool}' is not installed (CI installs it via .ci/run).");
}
