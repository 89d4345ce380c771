using System.ComponentModel;

namespace Transport.UnixNative.Bench.Common;

/// <summary>How every suite starts and ends: --help, a bad option, Ctrl+C and a missing tool or build become one line and an exit code.</summary>
internal static class SuiteEntry
{
    /// <summary>
    /// Parses <paramref name="args"/> (--help prints <paramref name="usage"/>, exit 0; a bad option prints why and the usage, exit 2),
    /// then runs the suite with Ctrl+C as its cancellation (exit 130: it stops at its next await, its finally blocks stop
    /// the servers and remove their sockets); an I/O error, a missing tool or build is one line and exit 1.
    /// </summary>
    public static async Task<int> RunAsync<TOptions>(IReadOnlyList<string> args, Func<IReadOnlyList<string>, TOptions> parse, string usage, Func<TOptions, CancellationToken, Task<int>> run)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(usage);
            return 0;
        }
        TOptions options;
        try
        {
            options = parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(usage);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        try
        {
            return await run(options, cancel.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
        catch (Exception ex) when (ex is IOException or FileNotFoundException or DirectoryNotFoundException or Win32Exception)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }
}
