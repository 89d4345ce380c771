using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text;

namespace Transport.UnixNative.Tests.Access;

/// <summary>Runs only where test users can be created and switched to (root), or in CI, where it must run.</summary>
public sealed class UserSwitchingFactAttribute : FactAttribute
{
    public UserSwitchingFactAttribute() => Skip = SkipReasons.UserSwitching();
}

/// <inheritdoc cref="UserSwitchingFactAttribute"/>
public sealed class UserSwitchingTheoryAttribute : TheoryAttribute
{
    public UserSwitchingTheoryAttribute() => Skip = SkipReasons.UserSwitching();
}

/// <summary>Runs where curl is installed, or in CI, where it must run.</summary>
public sealed class CurlFactAttribute : FactAttribute
{
    public CurlFactAttribute() => Skip = SkipReasons.Curl();
}

/// <inheritdoc cref="CurlFactAttribute"/>
public sealed class CurlTheoryAttribute : TheoryAttribute
{
    public CurlTheoryAttribute() => Skip = SkipReasons.Curl();
}

/// <summary>Runs where python3 is installed, or in CI, where it must run.</summary>
public sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute() => Skip = SkipReasons.Python();
}

/// <inheritdoc cref="PythonFactAttribute"/>
public sealed class PythonTheoryAttribute : TheoryAttribute
{
    public PythonTheoryAttribute() => Skip = SkipReasons.Python();
}

internal static class SkipReasons
{
    private static bool InCI => Environment.GetEnvironmentVariable("CI") is { Length: > 0 };

    public static string? UserSwitching()
    {
        if (InCI)
        {
            return null;
        }
        if (ProcessIds.EffectiveUserId != 0)
        {
            return $"Needs root to create test users and run curl as them with setpriv (running as uid {ProcessIds.EffectiveUserId}); CI runs it.";
        }
        return Tools.Missing("setpriv", "useradd", "groupadd", "usermod", "curl", "stat") is { } missing
            ? $"Needs {missing} (util-linux, passwd, curl, coreutils); CI installs them."
            : null;
    }

    public static string? Python() => !InCI && Tools.Missing("python3") is { } missing ? $"Needs {missing}; CI installs it." : null;

    public static string? Curl() => !InCI && Tools.Missing("curl", "stat") is { } missing ? $"Needs {missing}; CI installs it." : null;
}

internal static class Tools
{
    private static readonly string[] s_path = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
        .Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/sbin", "/sbin"]).ToArray();

    public static string? Missing(params string[] tools)
    {
        var missing = tools.Where(t => !s_path.Any(dir => File.Exists(Path.Combine(dir, t)))).ToArray();
        return missing.Length == 0 ? null : string.Join(", ", missing);
    }
}

/// <summary>This process's ids, read from /proc (not from the code under test).</summary>
internal static class ProcessIds
{
    public static uint EffectiveUserId => Field("Uid:", 1);
    public static uint EffectiveGroupId => Field("Gid:", 1);

    public static uint[] SupplementaryGroupIds =>
        Line("Groups:").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(uint.Parse).ToArray();

    // "Uid:\treal\teffective\tsaved\tfs"
    private static uint Field(string name, int index)
        => uint.Parse(Line(name).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[1 + index]);

    private static string Line(string name) => File.ReadLines("/proc/self/status").First(l => l.StartsWith(name, StringComparison.Ordinal));
}

internal static class SecurityTestExtensions
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static Task DefaultTimeout(this Task task) => task.WaitAsync(Timeout);

    public static Task<T> DefaultTimeout<T>(this Task<T> task) => task.WaitAsync(Timeout);
}

/// <summary>A finished child process.</summary>
internal sealed record ProcessResult(int Pid, int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"pid {Pid} exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

internal static class ChildProcess
{
    /// <summary>Runs a program to completion (killed after the default timeout) and returns its exit code and output.</summary>
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
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
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {fileName}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(SecurityTestExtensions.Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish within {SecurityTestExtensions.Timeout}: {await stderr}");
        }
        return new ProcessResult(process.Id, process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>A fresh directory under /tmp that other users may traverse (0755), removed with everything in it.</summary>
[SupportedOSPlatform("linux")]
internal sealed class TempSocketDirectory : IDisposable
{
    public TempSocketDirectory()
    {
        // Short: socket paths must fit in sun_path's 107 bytes.
        Path = System.IO.Path.Combine("/tmp", "un-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        // CreateDirectory's mode is filtered by the umask; make it exact.
        File.SetUnixFileMode(Path, (UnixFileMode)Convert.ToInt32("755", 8));
    }

    public string Path { get; }

    public string PathOf(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
