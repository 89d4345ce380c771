using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Transport.UnixNative.Testing;

internal sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError, int Pid)
{
    public override string ToString() => $"pid {Pid} exit {ExitCode}\nstdout: {StandardOutput}\nstderr: {StandardError}";
}

/// <summary>Runs an outside program to completion with a deadline; one that overstays is killed (with its children), never left behind.</summary>
internal static class ProcessRunner
{
    /// <param name="fileName">A path, or a program name looked up on PATH (missing: a failure, see <see cref="Tools.Require"/>).</param>
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan? timeout = null,
        IDictionary<string, string>? environment = null)
    {
        await using var process = ExternalProcess.Start(fileName, arguments, environment);
        process.CloseInput();
        try
        {
            return await process.WaitForExitAsync(timeout ?? TimeoutExtensions.DefaultTimeoutValue);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish in time; killed.\n{process.Output}");
        }
    }

    /// <summary>The dotnet host running these tests, so a sample or a child runs on the same runtime.</summary>
    public static string Dotnet => Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet"
        ? host
        : Tools.Require("dotnet");
}

/// <summary>
/// An outside program (curl, h2load, socat, nginx, haproxy, Go, Python, a second dotnet) run as a real peer, its
/// output collected line by line so a test can wait for a line; killed with its children on dispose.
/// </summary>
internal sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Lock _gate = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Seen)> _waiters = [];
    private readonly List<string> _lines = [];
    private Task _outputEnded = Task.CompletedTask;

    private ExternalProcess(Process process) => _process = process;

    public int Id => _process.Id;

    /// <param name="file">A path, or a program name looked up on PATH (missing: a failure, see <see cref="Tools.Require"/>).</param>
    public static ExternalProcess Start(string file, IEnumerable<string> arguments, IDictionary<string, string>? environment = null,
        string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file.Contains('/') ? file : Tools.Require(file))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? string.Empty,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info };
        var result = new ExternalProcess(process);
        process.Start();
        // Read as text, not as lines, so a result is exactly what the program printed (a last line without '\n' stays so).
        result._outputEnded = Task.WhenAll(
            result.CollectAsync(process.StandardOutput, result._stdout),
            result.CollectAsync(process.StandardError, result._stderr));
        return result;
    }

    public void CloseInput() => _process.StandardInput.Close();

    public async Task<ProcessResult> WaitForExitAsync(TimeSpan? timeout = null)
    {
        await _process.WaitForExitAsync().Timeout(timeout ?? TimeoutExtensions.DefaultTimeoutValue);
        await _outputEnded.DefaultTimeout();
        lock (_gate)
        {
            return new ProcessResult(_process.ExitCode, _stdout.ToString(), _stderr.ToString(), _process.Id);
        }
    }

    /// <summary>
    /// Completes when a line of stdout or stderr matches (already printed or to come): readiness from the program
    /// itself, not a sleep. Fails once all its output has been read without one. Each line is matched once, in order.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            foreach (var line in _lines)
            {
                if (match(line))
                {
                    return line;
                }
            }
            _waiters.Add((match, seen));
        }
        // Both streams at EOF means every line has been seen (Exited can come before the last lines).
        var first = await Task.WhenAny(seen.Task, _outputEnded).DefaultTimeout();
        if (first != seen.Task && !seen.Task.IsCompleted)
        {
            await _process.WaitForExitAsync().DefaultTimeout();
            throw new InvalidOperationException(
                $"{_process.StartInfo.FileName} exited ({_process.ExitCode}) before printing the expected line.\n{Output}");
        }
        return await seen.Task;
    }

    /// <summary>Waits until the program accepts connections on <paramref name="path"/> (for programs that print no ready line).</summary>
    public async Task WaitForSocketAsync(string path)
    {
        var ready = await Poll.UntilAsync(() =>
        {
            if (_process.HasExited)
            {
                return true;
            }
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        });
        if (!ready || _process.HasExited)
        {
            throw new InvalidOperationException($"{_process.StartInfo.FileName} is not accepting on {path}:\n{Output}");
        }
    }

    public string Output
    {
        get
        {
            lock (_gate)
            {
                return $"stdout: {_stdout}\nstderr: {_stderr}";
            }
        }
    }

    private async Task CollectAsync(StreamReader reader, StringBuilder sink)
    {
        var buffer = new char[4096];
        var partial = new StringBuilder();
        int n;
        while ((n = await reader.ReadAsync(buffer)) > 0)
        {
            Collect(buffer.AsSpan(0, n), sink, partial);
        }
        if (partial.Length > 0)
        {
            Collect("\n", sink: null, partial);
        }
    }

    /// <summary>Appends <paramref name="text"/> and offers each line it completes to the waiters, all under one lock, so each line is matched once.</summary>
    private void Collect(ReadOnlySpan<char> text, StringBuilder? sink, StringBuilder partial)
    {
        List<(TaskCompletionSource<string> Seen, string Line)> matched = [];
        lock (_gate)
        {
            sink?.Append(text);
            foreach (var c in text)
            {
                if (c != '\n')
                {
                    partial.Append(c);
                    continue;
                }
                var line = partial.ToString().TrimEnd('\r');
                partial.Clear();
                _lines.Add(line);
                for (var i = _waiters.Count - 1; i >= 0; i--)
                {
                    if (_waiters[i].Match(line))
                    {
                        matched.Add((_waiters[i].Seen, line));
                        _waiters.RemoveAt(i);
                    }
                }
            }
        }
        foreach (var (seen, line) in matched)
        {
            seen.TrySetResult(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            await _process.WaitForExitAsync().DefaultTimeout();
        }
        catch (InvalidOperationException)
        {
            // Never started, or already reaped.
        }
        _process.Dispose();
    }
}
