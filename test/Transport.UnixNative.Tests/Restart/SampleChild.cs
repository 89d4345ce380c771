using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Restart;

/// <summary>
/// The built WebOverUds sample as a child process, optionally behind a launcher
/// (<c>systemd-socket-activate …</c>, <c>setpriv …</c>), with every output line kept so a test can
/// wait for one. Disposal kills whatever still runs.
/// </summary>
internal sealed partial class SampleChild : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Task _stdout;
    private readonly Task _stderr;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SampleChild(Process process)
    {
        _process = process;
        _stdout = PumpAsync(process.StandardOutput);
        _stderr = PumpAsync(process.StandardError);
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return _lines.ToArray();
            }
        }
    }

    /// <summary>
    /// Starts <c>[launcher…] dotnet WebOverUds.dll args…</c> in <paramref name="home"/> (also its $HOME).
    /// </summary>
    public static SampleChild Start(string home, IEnumerable<string> launcher, IEnumerable<string> sampleArguments, IDictionary<string, string>? environment = null)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var prefix = launcher.ToList();
        var start = new ProcessStartInfo(prefix.Count > 0 ? Tools.Require(prefix[0]) : dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = home,
        };
        foreach (var argument in prefix.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }
        if (prefix.Count > 0)
        {
            start.ArgumentList.Add(dotnet);
        }
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "WebOverUds.dll"));
        foreach (var argument in sampleArguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["HOME"] = home;
        start.Environment["DOTNET_CLI_HOME"] = home;
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment.Remove("NOTIFY_SOCKET");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("Cannot start the sample.");
        process.StandardInput.Close();
        return new SampleChild(process);
    }

    public static SampleChild Start(string home, params string[] sampleArguments) => Start(home, [], sampleArguments);

    private async Task PumpAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            TaskCompletionSource changed;
            lock (_lines)
            {
                _lines.Add(line);
                changed = _changed;
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            changed.TrySetResult();
        }
        lock (_lines)
        {
            _changed.TrySetResult();
        }
    }

    /// <summary>The first line containing <paramref name="text"/>; fails (with the output so far) if the process ends or time runs out first.</summary>
    public async Task<string> WaitForLineAsync(string text, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeoutExtensions.DefaultTimeoutValue);
        while (true)
        {
            Task changed;
            lock (_lines)
            {
                if (_lines.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
                {
                    return line;
                }
                changed = _changed.Task;
            }
            if (_stdout.IsCompleted && _stderr.IsCompleted)
            {
                throw new InvalidOperationException($"The sample (pid {Pid}) ended before printing '{text}':\n{Output}");
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || await Task.WhenAny(changed, Task.Delay(left)) != changed)
            {
                throw new TimeoutException($"The sample (pid {Pid}) did not print '{text}' in time:\n{Output}");
            }
        }
    }

    /// <summary>
    /// Waits for the host's last startup line. The sample prints its "Try:" lines from an
    /// ApplicationStarted callback registered after the host's own, which therefore runs first
    /// (callbacks run in reverse order), so they are all out by then.
    /// </summary>
    public Task WaitForStartedAsync() => WaitForLineAsync("Content root path:");

    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        await _process.WaitForExitAsync().Timeout(timeout ?? TimeoutExtensions.DefaultTimeoutValue);
        await Task.WhenAll(_stdout, _stderr).DefaultTimeout();
        return _process.ExitCode;
    }

    /// <summary>SIGTERM: what systemd and a service manager send; the host stops gracefully.</summary>
    public void Terminate() => Assert.Equal(0, kill(Pid, 15));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync().DefaultTimeout();
        _process.Dispose();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}

/// <summary>One request on a new connection, as an outside client makes it: GET /process, answered by which pid.</summary>
internal static class ProcessProbe
{
    public static async Task<int> PidAsync(ServerAddress address)
    {
        using var client = UnixClient.CreateHttpClient(address);
        var json = await client.GetStringAsync("/process").DefaultTimeout();
        using var document = JsonDocument.Parse(json);
        Assert.True(DateTimeOffset.TryParse(document.RootElement.GetProperty("started").GetString(), out _), json);
        return document.RootElement.GetProperty("pid").GetInt32();
    }
}
