using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>
/// A long-running outside program (nginx, haproxy, a Go or Python server, podman, curl streaming): its
/// output collected line by line so a test can wait for a line; killed with its children on dispose.
/// </summary>
internal sealed class OutsideProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Seen)> _waiters = [];
    // Set when both stdout and stderr reached EOF: every line has been seen (Exited can come before the last lines).
    private readonly TaskCompletionSource _outputEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _streamsEnded;

    private OutsideProcess(Process process) => _process = process;

    /// <summary>Everything printed so far (stdout and stderr interleaved), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static OutsideProcess Start(string tool, IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Tools.Require(tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var process = new Process { StartInfo = start };
        var result = new OutsideProcess(process);
        process.OutputDataReceived += (_, e) => result.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => result.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>Waits for a line matching <paramref name="match"/> (already printed or to come); fails if the program ends first.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            foreach (var line in _output.ToString().Split('\n'))
            {
                if (match(line.TrimEnd('\r')))
                {
                    return line;
                }
            }
            _waiters.Add((match, seen));
        }
        var first = await Task.WhenAny(seen.Task, _outputEnded.Task).DefaultTimeout();
        if (first != seen.Task && !seen.Task.IsCompleted)
        {
            await _process.WaitForExitAsync().DefaultTimeout();
            throw new InvalidOperationException($"{_process.StartInfo.FileName} exited ({_process.ExitCode}) before printing the expected line:\n{Output}");
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

    private void OnLine(string? line)
    {
        if (line is null)
        {
            if (Interlocked.Increment(ref _streamsEnded) == 2)
            {
                _outputEnded.TrySetResult();
            }
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    _waiters[i].Seen.TrySetResult(line);
                    _waiters.RemoveAt(i);
                }
            }
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
        finally
        {
            _process.Dispose();
        }
    }
}

/// <summary>A private directory for an outside program's config, pid, log and temp files; removed on dispose.</summary>
internal sealed class PrivateDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateDirectory($"/tmp/unx-{TestPaths.Hex8()}").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string text)
    {
        var file = File(name);
        System.IO.File.WriteAllText(file, text);
        return file;
    }

    public void Dispose() => TestPaths.DeleteQuietly(Path);
}
