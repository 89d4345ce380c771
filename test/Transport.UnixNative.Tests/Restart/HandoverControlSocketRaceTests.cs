using System.Buffers;
using System.Diagnostics;
using System.Runtime.Versioning;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Transport.UnixNative.Tests.Infrastructure;
using Xunit.Abstractions;
using Transport.UnixNative.Restart;

namespace Transport.UnixNative.Tests.Restart;

/// <summary>
/// The hand-over control socket in a directory another user can write (0777, not sticky): that user swaps
/// the freshly bound socket for a symbolic link to a root-owned file, as fast as it can, while a root
/// process creates the control socket again and again. The file's mode must never change.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class HandoverControlSocketRaceTests(ITestOutputHelper output)
{
    private const int Tries = 200;

    [ToolFact("gcc", "setpriv")]
    public async Task SymlinkSwappedInAfterBind_NeverRedirectsTheChmod()
    {
        var users = await TestUsers.GetAsync();
        using var racerHome = new TempSocketDirectory();
        using var victimHome = new TempSocketDirectory();
        File.SetUnixFileMode(racerHome.Path, (UnixFileMode)Convert.ToInt32("777", 8));
        var victim = victimHome.PathOf("victim");
        await File.WriteAllTextAsync(victim, "root's file");
        var victimMode = (UnixFileMode)Convert.ToInt32("644", 8);
        File.SetUnixFileMode(victim, victimMode);
        var control = racerHome.PathOf("h.ctl");
        var stop = racerHome.PathOf("stop");

        // The racer, in C to be fast: whenever a socket shows up at the control path, move it away and put a link there.
        const string racer = """
            #include <stdio.h>
            #include <unistd.h>
            #include <sys/stat.h>
            int main(int argc, char **argv) {
                char moved[4096];
                snprintf(moved, sizeof moved, "%s.moved", argv[1]);
                long swaps = 0;
                printf("racing\n");
                fflush(stdout);
                for (unsigned long i = 0;; i++) {
                    struct stat st;
                    if (lstat(argv[1], &st) == 0 && S_ISSOCK(st.st_mode) && rename(argv[1], moved) == 0) {
                        symlink(argv[2], argv[1]);
                        swaps++;
                    }
                    if ((i & 0xFFF) == 0 && access(argv[3], F_OK) == 0) break;
                }
                printf("swaps %ld\n", swaps);
                return 0;
            }
            """;
        var source = victimHome.PathOf("racer.c");
        var binary = victimHome.PathOf("racer");
        await File.WriteAllTextAsync(source, racer);
        var compile = await ProcessRunner.RunAsync("gcc", ["-O2", "-o", binary, source]);
        Assert.True(compile.ExitCode == 0, compile.ToString());
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { $"--reuid={users.Other.Uid}", $"--regid={users.Other.Gid}", "--clear-groups", binary, control, victim, stop })
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        Assert.Equal("racing", await process.StandardOutput.ReadLineAsync().WaitAsync(TimeoutExtensions.DefaultTimeoutValue));

        var factory = new UnixNativeTransportFactory(Options.Create(new UnixNativeTransportOptions()), NullLoggerFactory.Instance, new SharedPool());
        var lifetime = new ApplicationLifetime(NullLogger<ApplicationLifetime>.Instance);
        var failures = 0;
        var changedAt = -1;
        try
        {
            for (var i = 0; i < Tries && changedAt < 0; i++)
            {
                foreach (var leftover in new[] { control, control + ".moved" })
                {
                    File.Delete(leftover);
                }
                try
                {
                    using var server = HandoverServer.Start(control, factory, lifetime, NullLogger.Instance);
                }
                catch (IOException)
                {
                    failures++; // the racer put something at the path first: refused, left alone
                }
                if (File.GetUnixFileMode(victim) != victimMode)
                {
                    changedAt = i;
                }
            }
        }
        finally
        {
            await File.WriteAllTextAsync(stop, "");
            await process.WaitForExitAsync().WaitAsync(TimeoutExtensions.DefaultTimeoutValue);
        }
        var swaps = await process.StandardOutput.ReadLineAsync();
        output.WriteLine($"{Tries} tries, racer: {swaps}, {failures} starts refused");

        Assert.True(changedAt < 0, $"try {changedAt}: the victim's mode became {File.GetUnixFileMode(victim)}; racer: {swaps}");
        Assert.Equal(victimMode, File.GetUnixFileMode(victim));
    }

    private sealed class SharedPool : IMemoryPoolFactory<byte>
    {
        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => MemoryPool<byte>.Shared;
    }
}
