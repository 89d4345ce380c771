namespace Transport.UnixNative.Ecosystem.Tests.Samples;

/// <summary>
/// A sample that cannot start prints one line (what, which path, which errno, what to do) on stderr
/// and exits 1: no stack trace, no SIGABRT (134).
/// </summary>
public sealed class StartupFailureTests
{
    public static TheoryData<string, string[]> MissingDirectory => new()
    {
        { "WebOverUds", ["--urls", "http://unix:/nonexistent-un-dir/web.sock"] },
        { "GrpcOverUds", ["/nonexistent-un-dir/grpc.sock"] },
        { "SeqpacketMessages", ["/nonexistent-un-dir/msg.seq"] },
    };

    [Theory]
    [MemberData(nameof(MissingDirectory))]
    public async Task MissingDirectory_OneLineNamingPathAndErrno_Exit1(string sample, string[] arguments)
    {
        var result = await SampleProcess.RunAsync(sample, arguments);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"{sample}: cannot start: ", line, StringComparison.Ordinal);
        Assert.Contains("/nonexistent-un-dir", line, StringComparison.Ordinal);
        Assert.Contains("ENOENT", line, StringComparison.Ordinal);
        Assert.Contains("Create the directory first", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.StandardOutput + result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PathInUse_SaysSoAndWhatToDo_Exit1()
    {
        var path = TestPaths.SocketPath();
        try
        {
            await using var first = await SampleProcess.StartAsync("GrpcOverUds", "Greeter on ", readyLines: 1, path);

            var second = await SampleProcess.RunAsync("GrpcOverUds", path);

            Assert.Equal(1, second.ExitCode);
            var line = Assert.Single(second.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"'{path}' is in use", line, StringComparison.Ordinal);
            Assert.Contains("stop it or choose another address", line, StringComparison.Ordinal);
        }
        finally
        {
            TestPaths.DeleteQuietly(path);
        }
    }

    [Fact]
    public async Task BadConfiguration_NamesTheSetting_Exit1()
    {
        var path = TestPaths.SocketPath();

        var result = await SampleProcess.RunAsync("GrpcOverUds", path, "--Kestrel:UnixNative:IOThreadCount=0");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("IOThreadCount (Kestrel:UnixNative:IOThreadCount) must be between 1 and 1024; it is 0.", line, StringComparison.Ordinal);
        TestPaths.DeleteQuietly(path);
    }
}
