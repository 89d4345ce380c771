using System.Diagnostics;
using System.Runtime.Versioning;
using static Transport.UnixNative.Tests.Access.PeerCredentialsFeatureTests;

using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Access;

/// <summary>
/// A <c>path.lock</c> left (or held with flock) by another user in a directory everyone may write (1777, like /tmp)
/// is never trusted: a server that may remove it makes its own; one that may not fails naming the file and its owner.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class LockFileOwnerTests
{
    private static readonly UnixFileMode Sticky1777 = (UnixFileMode)Convert.ToInt32("1777", 8);

    [UserSwitchingFact]
    public async Task ForeignLockFile_HeldWithFlock_IsReplaced_ByARootServer()
    {
        var users = await TestUsers.GetAsync();
        await using var server = new SecureServer();
        File.SetUnixFileMode(server.Directory, Sticky1777);
        var lockPath = server.SocketPath + ".lock";
        await using var holder = await ForeignLockHolder.StartAsync(users.Other, lockPath);

        await server.StartAsync();

        Assert.Equal(ProcessIds.EffectiveUserId, ReportOf(await Curl.GetAsync(server.Address, "/peer")).Uid);
        var stat = await SocketFilePermissionTests.StatAsync(lockPath);
        Assert.Equal(["600", "root"], stat[..2]);   // our own lock file, made anew
        Assert.False(holder.HasExited);
    }

    [UserSwitchingFact]
    public async Task ForeignLockFile_ThatTheServerMayNotRemove_FailsStartup_NamingTheFileAndItsOwner()
    {
        var users = await TestUsers.GetAsync();
        using var directory = new TempSocketDirectory();
        File.SetUnixFileMode(directory.Path, Sticky1777);
        var socket = directory.PathOf("s.sock");
        var lockPath = socket + ".lock";
        // Just left there, readable by all: before, it was adopted as it was.
        var made = await ProcessRunner.RunAsync("setpriv", [$"--reuid={users.Other.Uid}", $"--regid={users.Other.Gid}", "--clear-groups",
            "/usr/bin/python3", "-c", "import os, sys; os.close(os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644))", lockPath]);
        Assert.True(made.ExitCode == 0, made.ToString());

        // The server runs as unx-member: in a sticky directory it may not remove unx-other's file.
        var error = await Assert.ThrowsAsync<SampleExitedException>(() => SampleProcess.StartAsync(directory.Path, users.Member, "--urls", $"http://unix:{socket}"));

        Assert.Contains($"its lock file '{lockPath}' belongs to uid {users.Other.Uid} ({TestUsers.OtherName}), not to this process's uid {users.Member.Uid}", error.Output);
        Assert.Contains("EPERM", error.Output);
        Assert.DoesNotContain("Another server", error.Output, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(socket));
        Assert.Equal(users.Other.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), (await ProcessRunner.RunAsync("stat", ["-c", "%u", lockPath])).StandardOutput.Trim());
    }

    /// <summary>python3 as another user: creates the lock file, holds an exclusive flock on it until disposed.</summary>
    private sealed class ForeignLockHolder : IAsyncDisposable
    {
        private readonly Process _process;

        private ForeignLockHolder(Process process) => _process = process;

        public bool HasExited => _process.HasExited;

        public static async Task<ForeignLockHolder> StartAsync(TestUser user, string path)
        {
            var start = new ProcessStartInfo("setpriv") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { $"--reuid={user.Uid}", $"--regid={user.Gid}", "--clear-groups", "/usr/bin/python3", "-c",
                "import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o644)\nfcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\nsys.stdin.read()", path })
            {
                start.ArgumentList.Add(a);
            }
            var holder = new ForeignLockHolder(Process.Start(start)!);
            Assert.Equal("locked", await holder._process.StandardOutput.ReadLineAsync().WaitAsync(TimeoutExtensions.DefaultTimeoutValue));
            return holder;
        }

        public async ValueTask DisposeAsync()
        {
            _process.StandardInput.Close();
            await _process.WaitForExitAsync().WaitAsync(TimeoutExtensions.DefaultTimeoutValue);
            _process.Dispose();
        }
    }
}
