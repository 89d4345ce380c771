using System.Diagnostics;
using System.Text;

namespace Transport.UnixNative.Bench.Common;

/// <summary>A child process (the sample, nginx) whose output is kept so a line can be waited for; disposing kills its tree.</summary>
internal sealed class ChildProcess : IDisposable
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly SemaphoreSlim _changed = new(0);
    private readonly string? _errorPrefix;
    private bool _disposed;

    private ChildProcess(Process process, string? errorPrefix)
    {
        _process = process;
        _errorPrefix = errorPrefix;
        _process.OutputDataReceived += OnLine;
        _process.ErrorDataReceived += OnErrorLine;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Runs <paramref name="file"/> to its end (a build, h2load); its standard output, or an IOException with both outputs when it fails.</summary>
    public static async Task<string> RunToEndAsync(string file, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new IOException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new IOException($"{file} {string.Join(' ', info.ArgumentList)} exited with {process.ExitCode}: {await stderr}{await stdout}");
        }
        return await stdout;
    }

    /// <summary>How to start <paramref name="dll"/> with the dotnet host that runs this program.</summary>
    public static ProcessStartInfo Dotnet(string dll, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        info.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return info;
    }

    /// <summary>Starts <paramref name="info"/> with its output captured; with <paramref name="errorPrefix"/>, its stderr lines are also echoed to ours.</summary>
    public static ChildProcess Start(ProcessStartInfo info, string? errorPrefix = null)
    {
        info.UseShellExecute = false;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        return new ChildProcess(Process.Start(info) ?? throw new IOException($"cannot start {info.FileName}"), errorPrefix);
    }

    private void OnErrorLine(object sender, DataReceivedEventArgs e)
    {
        if (_errorPrefix is not null && e.Data is { Length: > 0 })
        {
            Console.Error.WriteLine($"[{_errorPrefix}] {e.Data}");
        }
        OnLine(sender, e);
    }

    private void OnLine(object sender, DataReceivedEventArgs e)
    {
        lock (_output)
        {
            _output.AppendLine(e.Data);
        }
        _changed.Release();
    }

    /// <summary>Waits until the process has printed <paramref name="text"/>; fails if it exits first or a minute passes.</summary>
    public async Task WaitForAsync(string text)
    {
        var deadline = DateTime.UtcNow + WaitLimit;
        while (true)
        {
            lock (_output)
            {
                if (_output.ToString().Contains(text, StringComparison.Ordinal))
                {
                    return;
                }
            }
            if (_process.HasExited || DateTime.UtcNow > deadline || !await _changed.WaitAsync(WaitLimit).ConfigureAwait(false))
            {
                throw new IOException($"pid {Pid} did not print '{text}':\n{_output}");
            }
        }
    }

    public Task ExitAsync() => _process.WaitForExitAsync().WaitAsync(WaitLimit);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
    }
}
