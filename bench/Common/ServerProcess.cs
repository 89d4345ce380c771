using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Bench.Native;

namespace Transport.UnixNative.Bench.Common;

/// <summary>How to start the server for one measurement.</summary>
/// <param name="Transport">The app's <c>--transport</c>: native or sockets; or nginx (then no app runs).</param>
/// <param name="Listen">The stream endpoint (--urls); the readiness probe goes there.</param>
/// <param name="Seqpacket">An extra SOCK_SEQPACKET endpoint (--seqpacket), or null.</param>
/// <param name="Http2Only">Start Kestrel with Protocols=Http2 (needed for h2c with prior knowledge).</param>
/// <param name="ExtraArgs">More arguments for the sample, e.g. <c>--Kestrel:Limits:KeepAliveTimeout=00:00:03</c>.</param>
/// <param name="FileLimit">RLIMIT_NOFILE of the server, or null for as many as allowed.</param>
internal sealed record ServerSpec(string Transport, ServerAddress Listen, ServerAddress? Seqpacket, bool Http2Only, IReadOnlyList<string>? ExtraArgs = null, int? FileLimit = null)
{
    /// <summary>Extra arguments for the app (the scenario's, e.g. <c>--inline</c>).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>The path the load asks for (nginx needs a file for a /bytes/N path).</summary>
    public string BodyPath { get; init; } = "/plaintext";

    /// <summary>Extra environment for the server process (the same for every transport of a comparison).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>The core the server runs on, all its threads (<c>taskset -c</c>), or null for any.</summary>
    public string? Core { get; init; }
}

/// <summary>The server could not do what the measurement needs; the scenario is skipped with this note.</summary>
internal sealed class ScenarioSkippedException(string message) : Exception(message);

/// <summary>
/// The server (an app, or nginx) running in its own process: started through bash so its
/// descriptor limit can be raised, probed until it answers, stopped with SIGTERM (SIGKILL if it lingers).
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SeqpacketGrace = TimeSpan.FromSeconds(3);

    private readonly Process _process;
    private readonly ServerSpec _spec;
    private readonly StringBuilder _output = new();
    private int _errorLogCount;
    private string? _firstErrorLog;
    private int _errorDetailLines;

    private readonly NginxConfig? _nginx;

    private ServerProcess(Process process, ServerSpec spec, NginxConfig? nginx)
    {
        _process = process;
        _spec = spec;
        _nginx = nginx;
    }

    /// <summary>The server's own pid: bash execs dotnet, so it is the process we started.</summary>
    public int Pid => _process.Id;

    public ProcSample Sample() => ProcStat.Read(Pid);

    /// <summary>What the server printed so far (its log is at Warning level, so this is short).</summary>
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

    public static async Task<ServerProcess> StartAsync(string appDll, ServerSpec spec, CancellationToken cancellationToken)
    {
        NginxConfig? nginx = null;
        if (spec.Transport == "nginx")
        {
            nginx = NginxConfig.Create(spec) ?? throw new ScenarioSkippedException("nginx is not installed (Debian: apt-get install nginx)");
        }
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // 10k idle connections need more descriptors than the usual soft limit; go as high as the hard limit allows.
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(spec.FileLimit is { } fileLimit
            ? $"ulimit -n {fileLimit} || exit 111; exec \"$0\" \"$@\""
            : "ulimit -n 65536 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; exec \"$0\" \"$@\"");
        if (spec.Core is { } core)
        {
            // taskset execs the server in turn, so the pid we hold stays the server's.
            foreach (var arg in CorePinning.On(core, []))
            {
                info.ArgumentList.Add(arg);
            }
        }
        if (nginx is not null)
        {
            foreach (var arg in nginx.CommandLine)
            {
                info.ArgumentList.Add(arg);
            }
        }
        else
        {
            AddAppArguments(info, appDll, spec);
        }
        info.Environment["DOTNET_gcServer"] = "0";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment.Remove("DOTNET_URLS");
        foreach (var (name, value) in spec.Environment)
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info };
        var server = new ServerProcess(process, spec, nginx);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        try
        {
            process.Start();
        }
        catch
        {
            nginx?.Dispose();
            process.Dispose();
            throw;
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilAnsweringAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static void AddAppArguments(ProcessStartInfo info, string appDll, ServerSpec spec)
    {
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(appDll);
        info.ArgumentList.Add("--transport");
        info.ArgumentList.Add(spec.Transport);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(spec.Listen.KestrelUrl);
        foreach (var arg in spec.Arguments)
        {
            info.ArgumentList.Add(arg);
        }
        if (spec.Seqpacket is { } seqpacket)
        {
            info.ArgumentList.Add("--seqpacket");
            info.ArgumentList.Add(seqpacket.Path);
        }
        if (spec.Http2Only)
        {
            info.ArgumentList.Add("--Kestrel:EndpointDefaults:Protocols=Http2");
        }
        foreach (var arg in spec.ExtraArgs ?? [])
        {
            info.ArgumentList.Add(arg);
        }
    }

    /// <summary>Log entries at Error or Critical level so far ("fail:"/"crit:" lines of the console logger).</summary>
    public int ErrorLogCount
    {
        get
        {
            lock (_output)
            {
                return _errorLogCount;
            }
        }
    }

    /// <summary>The first Error or Critical entry: category, message and the exception's first line; or null.</summary>
    public string? FirstErrorLog
    {
        get
        {
            lock (_output)
            {
                return _firstErrorLog;
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            if (_errorDetailLines > 0)
            {
                // The console logger puts the message and the exception's first line under the category line.
                _firstErrorLog += " " + line.Trim();
                _errorDetailLines--;
            }
            if (line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal))
            {
                _errorLogCount++;
                if (_firstErrorLog is null)
                {
                    _firstErrorLog = line.Trim();
                    _errorDetailLines = 2;
                }
            }
            // Keep the tail only: enough to explain a failure.
            if (_output.Length > 64 * 1024)
            {
                _output.Remove(0, _output.Length - 32 * 1024);
            }
            _output.AppendLine(line);
        }
    }

    private async Task WaitUntilAnsweringAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(StartTimeout.TotalSeconds * Stopwatch.Frequency);
        long? streamAnsweredAt = null;
        Exception? last = null;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false); // flushes the output readers
                var reason = $"the server exited with code {_process.ExitCode} before it answered: {FirstLines(Output, 5)}";
                if (_spec.Seqpacket is not null)
                {
                    throw new ScenarioSkippedException($"the sample cannot serve seqpacket ({reason})");
                }
                throw new InvalidOperationException(reason);
            }
            try
            {
                if (streamAnsweredAt is null)
                {
                    await ReadinessProbe.AnswerAsync(_spec.Listen, _spec.Http2Only, cancellationToken).ConfigureAwait(false);
                    streamAnsweredAt = Stopwatch.GetTimestamp();
                }
                if (_spec.Seqpacket is { } seqpacket)
                {
                    // Kestrel binds endpoints one after another and serves each at once: the stream
                    // endpoint may answer a moment before the seqpacket one exists.
                    if (!File.Exists(seqpacket.Path))
                    {
                        if (Stopwatch.GetElapsedTime(streamAnsweredAt.Value) > SeqpacketGrace)
                        {
                            throw new ScenarioSkippedException(
                                $"the sample opened no seqpacket socket at {seqpacket.Path} (it reads an unknown --seqpacket as configuration): it does not support --seqpacket");
                        }
                        throw new IOException($"no seqpacket socket at {seqpacket.Path} yet");
                    }
                    await ReadinessProbe.AnswerAsync(seqpacket, http2: false, cancellationToken).ConfigureAwait(false);
                }
                return;
            }
            catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException)
            {
                last = ex;
            }
            // Polling a starting process: there is nothing to wait on but its socket.
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
        throw new TimeoutException($"the server did not answer on {_spec.Listen} within {StartTimeout.TotalSeconds}s ({last?.Message}): {FirstLines(Output, 5)}");
    }

    private static string FirstLines(string text, int count)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(no output)" : string.Join(" | ", lines.Take(count));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                // SIGTERM: Kestrel shuts down gracefully and unlinks its socket files.
                BenchNative.kill(_process.Id, BenchNative.SIGTERM);
                using var timeout = new CancellationTokenSource(StopTimeout);
                try
                {
                    await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _process.Dispose();
            _nginx?.Dispose();
            _spec.Listen.DeleteSocketFile();
            _spec.Seqpacket?.DeleteSocketFile();
        }
    }
}
