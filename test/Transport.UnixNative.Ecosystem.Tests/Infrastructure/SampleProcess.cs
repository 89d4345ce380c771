using System.Diagnostics;

namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>
/// A sample (built next to the tests) running as its own process, as a user would start it. Ready
/// when it has printed <c>readyLines</c> lines containing the ready marker; killed on dispose.
/// </summary>
internal sealed class SampleProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    private SampleProcess(Process process) => _process = process;

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

    /// <summary>The sample's dll in the test output directory (the test project references it).</summary>
    public static string Dll(string sample) => Path.Combine(AppContext.BaseDirectory, sample + ".dll");

    /// <summary>The dotnet host running these tests, so the sample runs on the same runtime.</summary>
    public static string Dotnet => Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet"
        ? host
        : Tools.Require("dotnet");

    public static Task<ProcessResult> RunAsync(string sample, params string[] arguments)
        => ProcessRunner.RunAsync(Dotnet, [Dll(sample), .. arguments]);

    public static async Task<SampleProcess> StartAsync(string sample, string readyMarker, int readyLines, params string[] arguments)
    {
        var start = new ProcessStartInfo(Dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Dll(sample));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {sample}.");
        var sampleProcess = new SampleProcess(process);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = 0;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException($"{sample} ended before it was ready:\n{sampleProcess.Output}"));
                return;
            }
            sampleProcess.Append(e.Data);
            if (e.Data.Contains(readyMarker, StringComparison.Ordinal) && Interlocked.Increment(ref seen) == readyLines)
            {
                ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                sampleProcess.Append(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await ready.Task.DefaultTimeout();
        }
        catch
        {
            await sampleProcess.DisposeAsync();
            throw;
        }
        return sampleProcess;
    }

    private void Append(string line)
    {
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync().DefaultTimeout();
        _process.Dispose();
    }
}
