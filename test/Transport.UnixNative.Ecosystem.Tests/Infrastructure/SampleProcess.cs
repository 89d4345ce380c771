namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>
/// A sample (built next to the tests) running as its own process, as a user would start it. Ready
/// when it has printed <c>readyLines</c> lines containing the ready marker; killed on dispose.
/// </summary>
internal static class SampleProcess
{
    /// <summary>The sample's dll in the test output directory (the test project references it).</summary>
    public static string Dll(string sample) => Path.Combine(AppContext.BaseDirectory, sample + ".dll");

    public static Task<ProcessResult> RunAsync(string sample, params string[] arguments)
        => ProcessRunner.RunAsync(ProcessRunner.Dotnet, [Dll(sample), .. arguments]);

    public static async Task<ExternalProcess> StartAsync(string sample, string readyMarker, int readyLines, params string[] arguments)
    {
        var process = ExternalProcess.Start(ProcessRunner.Dotnet, [Dll(sample), .. arguments]);
        var seen = 0;
        try
        {
            // Each line is matched once, in order, so counting in the match is exact.
            await process.WaitForLineAsync(line => line.Contains(readyMarker, StringComparison.Ordinal) && ++seen == readyLines);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
        return process;
    }
}
