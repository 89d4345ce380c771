using System.Diagnostics;
using System.Globalization;

namespace Transport.UnixNative.Bench.Macro;

/// <summary>Runs h2load (nghttp2) against a server address with a scenario's load shape; on one core only when <paramref name="core"/> is set.</summary>
internal sealed class H2LoadRunner(string executable, string? core = null)
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(60);

    public string Executable => executable;

    /// <summary>The same h2load, started under <c>taskset -c <paramref name="loadCore"/></c>.</summary>
    public H2LoadRunner PinnedTo(string loadCore) => new(executable, loadCore);

    /// <summary>Runs for <paramref name="duration"/>; with <paramref name="logFile"/> h2load writes per-request latencies there (and runs slower).</summary>
    public async Task<H2LoadOutput> RunAsync(ServerAddress address, Scenario scenario, TimeSpan duration, string? logFile, CancellationToken cancellationToken)
    {
        var args = new List<string>();
        if (!scenario.Http2)
        {
            args.Add("--h1");
        }
        if (address.H2LoadBind is { } bind)
        {
            args.AddRange(["-B", bind]);
        }
        args.AddRange([
            "-t", "1",
            "-c", scenario.Connections.ToString(CultureInfo.InvariantCulture),
            "-m", scenario.Streams.ToString(CultureInfo.InvariantCulture),
            "-D", $"{(long)duration.TotalMilliseconds}ms",
        ]);
        if (logFile is not null)
        {
            args.AddRange(["--log-file", logFile]);
        }
        args.Add(address.H2LoadBaseUri + scenario.Path);
        return await RunAsync(args, duration, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs h2load with <paramref name="args"/> (which include its -D duration) and parses its report; fails on a non-zero exit or a report it cannot read.</summary>
    public async Task<H2LoadOutput> RunAsync(IReadOnlyList<string> args, TimeSpan duration, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> command = core is null ? [executable, .. args] : CorePinning.On(core, [executable, .. args]);
        var (exitCode, stdout, stderr) = await RunProcessAsync(command[0], command.Skip(1), duration + Grace, cancellationToken).ConfigureAwait(false);
        var commandLine = string.Join(' ', command);
        if (exitCode != 0)
        {
            throw new IOException($"'{commandLine}' exited with {exitCode}: {stderr.Trim()} {Tail(stdout)}");
        }
        var output = H2LoadOutput.Parse(stdout);
        if (output.Problem is { } problem)
        {
            throw new IOException($"'{commandLine}': {problem}\n{Tail(stdout)}");
        }
        return output;
    }

    /// <summary>h2load's version line, for the record.</summary>
    public async Task<string> VersionAsync(CancellationToken cancellationToken)
    {
        var (exitCode, stdout, stderr) = await RunProcessAsync(executable, ["--version"], TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new IOException($"'{executable} --version' exited with {exitCode}: {stderr.Trim()}");
        }
        return stdout.Trim();
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunProcessAsync(string file, IEnumerable<string> args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info) ?? throw new IOException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{file} {string.Join(' ', args)} ran longer than {timeout.TotalSeconds}s and was killed");
        }
        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    private static string Tail(string text) => text.Length <= 600 ? text : "…" + text[^600..];
}
