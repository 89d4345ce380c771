using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Hosting;

/// <summary>
/// The sample as its own process: a startup failure is one readable line and exit code 1. (Before the
/// fix the bind error escaped Main: "Unhandled exception", SIGABRT, exit 134.)
/// </summary>
public class SampleStartupFailureTests
{
    [Fact]
    public async Task BindFailure_ExitsWithOne_AndNamesThePath()
    {
        using var paths = new TempPaths();
        var path = Path.Combine(paths.SocketPath() + ".missing-dir", "s.sock");
        var result = await ProcessRunner.RunAsync("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "WebOverUds.dll"), "--urls", "http://unix:" + path]);

        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}\n{result.StandardError}");
        Assert.DoesNotContain("Unhandled exception", result.StandardError, StringComparison.Ordinal);
        Assert.Contains(Path.GetDirectoryName(path)!, result.StandardError.Split('\n').Last(l => l.StartsWith("WebOverUds:", StringComparison.Ordinal)), StringComparison.Ordinal);
    }
}
