namespace Transport.UnixNative.Client.Tests.Infrastructure;

/// <summary>Runs the built sample (samples/WebOverUds, referenced by this project) as a separate process.</summary>
internal static class SampleApp
{
    public static string Dll => typeof(Program).Assembly.Location;

    public static Task<ProcessResult> RunClientAsync(params string[] arguments)
        => ProcessRunner.RunAsync(ProcessRunner.Dotnet, [Dll, "client", .. arguments]);

    /// <summary>
    /// Runs the client as user nobody (uid 65534) via setpriv. The test output directory may sit where
    /// nobody cannot read (e.g. under /root), so the files are copied to a world-readable directory first.
    /// </summary>
    public static async Task<ProcessResult> RunClientAsNobodyAsync(params string[] arguments)
    {
        var directory = TestPaths.NewDirectory();
        try
        {
            foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory))
            {
                var copy = Path.Combine(directory, Path.GetFileName(file));
                File.Copy(file, copy);
                File.SetUnixFileMode(copy, (UnixFileMode)0b110_100_100);
            }
            var dll = Path.Combine(directory, Path.GetFileName(Dll));
            return await ProcessRunner.RunAsync("setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", "--", ProcessRunner.Dotnet, dll, "client", .. arguments],
                environment: new Dictionary<string, string> { ["HOME"] = directory, ["DOTNET_CLI_HOME"] = directory });
        }
        finally
        {
            TestPaths.DeleteQuietly(directory);
        }
    }

}
