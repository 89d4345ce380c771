using System.Runtime.Versioning;

namespace Transport.UnixNative.Tests.Infrastructure;

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

internal static class SkipReasons
{
    public static string? UserSwitching()
    {
        if (Tools.IsCI)
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
