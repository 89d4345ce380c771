using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Listener;

/// <summary>
/// The sample in a child process under <c>prlimit --nofile</c>, with more clients than descriptors.
/// Out of descriptors the server must stay alive, stay nearly idle, log the condition once, keep the
/// backlog and serve it as soon as descriptors come back. (Before the fix the retry's Task.Delay needed
/// the runtime's timer thread, which cannot start without a descriptor: an OutOfMemoryException
/// escaped AcceptAsync and the endpoint never accepted again.)
/// </summary>
[Collection(nameof(ProcessResourcesCollection))] // hundreds of sockets in this process: not beside the fd-count tests
public class DescriptorExhaustionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int DescriptorLimit = 400;
    private const string StarvedLine = "Out of descriptors accepting on";
    private const string ResumedLine = "out of descriptors (";
    private static readonly byte[] PlaintextRequest = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"u8.ToArray();

    [ToolFact("prlimit")]
    public async Task OutOfDescriptors_ServerIdles_LogsOnce_ServesTheBacklogWhenDescriptorsReturn()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        paths.Add(path + ".lock");
        await using var server = ChildServer.Start(path, DescriptorLimit);
        var clients = new List<Socket>();
        try
        {
            await server.WaitForLineAsync("Try:");
            var baseline = Directory.GetFiles($"/proc/{server.Pid}/fd").Length;
            // Enough to use every free descriptor and leave some in the backlog, but fewer in the backlog
            // than are freed later, so closing them ends the episode for good.
            var count = DescriptorLimit - baseline + 30;
            for (var i = 0; i < count; i++)
            {
                var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                clients.Add(client);
                await client.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path)).DefaultTimeout();
            }
            await server.WaitForLineAsync(StarvedLine);

            // A resource measure over a fixed window, not a synchronisation: CPU seconds while starved, less the
            // runtime's tiered compiler, which recompiles the methods the burst of accepts made hot and took
            // 0.20-0.22 of the 2 s in 3 of 70 runs under load (every other thread together: 0.01-0.02 s then).
            var before = server.Cpu();
            await Task.Delay(TimeSpan.FromSeconds(2));
            var (cpu, compiler, byThread) = server.Cpu().Since(before);
            output.WriteLine($"baseline fds {baseline}, clients {count}, CPU while starved: {cpu:F3} s over 2 s besides {compiler:F3} s of the tiered compiler; by thread: {byThread}");
            Assert.False(server.HasExited, "the server died out of descriptors");
            Assert.True(cpu < 0.2, $"the starved server used {cpu:F3} CPU-s in 2 s besides the tiered compiler; by thread: {byThread}");
            // Some 20 retries happened in that window: one line per episode, not one per retry. An episode
            // may end early (the sample closes descriptors it used at startup, the listener accepts a few
            // more, starves again): each such end has its own line. One snapshot, so both counts agree.
            var lines = server.Lines();
            var starved = lines.Count(l => l.Contains(StarvedLine, StringComparison.Ordinal));
            var resumed = lines.Count(l => l.Contains(ResumedLine, StringComparison.Ordinal));
            Assert.True(starved >= 1 && starved - resumed is 0 or 1, $"{starved} 'out of descriptors' lines for {resumed} episodes that ended:\n{server.Output}");

            // A client waiting in the backlog with its request already sent.
            using var waiting = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await waiting.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path)).DefaultTimeout();
            await waiting.SendAsync(PlaintextRequest).DefaultTimeout();

            foreach (var client in clients)
            {
                client.Dispose();
            }
            clients.Clear();

            // Descriptors are back: the waiting client is served, and so is a new one.
            var response = await ReadToEndAsync(waiting).DefaultTimeout();
            Assert.StartsWith("HTTP/1.1 200 OK", response, StringComparison.Ordinal);
            Assert.EndsWith("Hello, World!", response, StringComparison.Ordinal);
            using var fresh = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await fresh.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path)).DefaultTimeout();
            Assert.EndsWith("Hello, World!", await GetPlaintextAsync(fresh), StringComparison.Ordinal);

            await server.WaitForLineAsync(ResumedLine);
            Assert.False(server.HasExited);
        }
        finally
        {
            await CleanUpAsync(server, clients);
        }
    }

    /// <summary>
    /// A process that runs close to its limit (a few descriptors free beyond the listener's spare ones), and
    /// whose own use grows while it is out of them, must still resume once its clients leave. The first request
    /// makes the runtime open the assemblies it needs (8 descriptors, kept), so the idle server then has 7 free
    /// beyond its spares: enough to accept, fewer than the 8 resuming used to ask for, and it never accepted
    /// again (a flake before this request was made on purpose: the last request's assemblies sometimes
    /// loaded in the middle of an episode). Earlier still, resuming asked for 16 more.
    /// </summary>
    [ToolFact("prlimit")]
    public async Task CloseToTheLimit_GrowingWhileStarved_ResumesOnceClientsLeave()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        paths.Add(path + ".lock");
        await using var server = ChildServer.Start(path, DescriptorLimit);
        var clients = new List<Socket>();
        try
        {
            await server.WaitForLineAsync("Try:");
            // The running server (spare descriptors held, no request served yet) gets a limit 15 above what it uses now.
            var inUse = Directory.GetFiles($"/proc/{server.Pid}/fd").Length;
            using (var limit = Process.Start(Tools.Require("prlimit"), ["--pid", server.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), $"--nofile={inUse + 15}:{inUse + 15}"]))
            {
                await limit.WaitForExitAsync().DefaultTimeout();
                Assert.Equal(0, limit.ExitCode);
            }
            for (var i = 0; i < 20; i++)
            {
                var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                clients.Add(client);
                await client.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path)).DefaultTimeout();
            }
            await server.WaitForLineAsync(StarvedLine);

            // The first client was accepted (the backlog is served in order): its request, the server's first,
            // is served while the listener is starved, with the spare descriptors given back.
            Assert.EndsWith("Hello, World!", await GetPlaintextAsync(clients[0]), StringComparison.Ordinal);
            foreach (var client in clients)
            {
                client.Dispose();
            }
            clients.Clear();

            using var fresh = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await fresh.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path)).DefaultTimeout();
            Assert.EndsWith("Hello, World!", await GetPlaintextAsync(fresh), StringComparison.Ordinal);
            await server.WaitForLineAsync(ResumedLine);
            Assert.False(server.HasExited);
        }
        finally
        {
            await CleanUpAsync(server, clients);
        }
    }

    /// <summary>Sends one <c>GET /plaintext</c> (Connection: close) on <paramref name="socket"/> and returns all it gets back.</summary>
    private static async Task<string> GetPlaintextAsync(Socket socket)
    {
        await socket.SendAsync(PlaintextRequest).DefaultTimeout();
        return await ReadToEndAsync(socket).DefaultTimeout();
    }

    /// <summary>Closes the clients, then writes what the server was doing and, once it has gone, all it printed.</summary>
    private async Task CleanUpAsync(ChildServer server, List<Socket> clients)
    {
        foreach (var client in clients)
        {
            client.Dispose();
        }
        output.WriteLine(server.Describe());
        await server.DisposeAsync();
        output.WriteLine(server.Output);
    }

    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        var buffer = new byte[4096];
        var text = new StringBuilder();
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
        {
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
        return text.ToString();
    }

    /// <summary>The built sample as its own process, under a descriptor limit; killed (with its children) when disposed.</summary>
    internal sealed class ChildServer : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly SemaphoreSlim _newLine = new(0);

        private ChildServer(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) => Add(e.Data);
            _process.ErrorDataReceived += (_, e) => Add(e.Data);
            _process.EnableRaisingEvents = true;
            _process.Exited += (_, _) => _newLine.Release();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Pid => _process.Id;

        public bool HasExited => _process.HasExited;

        public string Output => string.Join('\n', _lines);

        public static ChildServer Start(string socketPath, int descriptorLimit, params string[] extraArguments)
        {
            var dotnet = Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : Tools.Require("dotnet");
            var start = new ProcessStartInfo(Tools.Require("prlimit"))
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in (string[])[$"--nofile={descriptorLimit}", "--", dotnet,
                Path.Combine(AppContext.BaseDirectory, "WebOverUds.dll"), "--urls", "http://unix:" + socketPath, .. extraArguments])
            {
                start.ArgumentList.Add(argument);
            }
            start.Environment["DOTNET_ENVIRONMENT"] = "Production";
            start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
            start.Environment["Logging__Console__FormatterName"] = "simple";
            // Kestrel logs a request that failed inside it (an assembly that could not be opened, out of
            // descriptors) only at Debug, and the client just sees the connection close.
            start.Environment["Logging__LogLevel__Microsoft.AspNetCore.Server.Kestrel.BadRequests"] = "Debug";
            return new ChildServer(Process.Start(start) ?? throw new InvalidOperationException("Cannot start the sample."));
        }

        private void Add(string? line)
        {
            if (line is not null)
            {
                _lines.Enqueue(line);
                _newLine.Release();
            }
        }

        public string[] Lines() => _lines.ToArray();

        public int CountLines(string text) => _lines.Count(l => l.Contains(text, StringComparison.Ordinal));

        public async Task WaitForLineAsync(string text)
        {
            var deadline = DateTime.UtcNow + TimeoutExtensions.DefaultTimeoutValue;
            while (CountLines(text) == 0)
            {
                if (_process.HasExited)
                {
                    throw new Xunit.Sdk.XunitException($"The sample exited ({_process.ExitCode}) before printing '{text}':\n{Output}");
                }
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !await _newLine.WaitAsync(left))
                {
                    throw new TimeoutException($"The sample did not print '{text}':\n{Output}");
                }
            }
        }

        /// <summary>CPU clock ticks (1/100 s) of the process and of each of its threads now, from /proc/PID/stat and /proc/PID/task/TID/stat.</summary>
        public CpuSample Cpu()
        {
            var process = Ticks(File.ReadAllText($"/proc/{Pid}/stat"));
            var threads = new Dictionary<int, (string Name, long Ticks)>();
            foreach (var task in Directory.GetDirectories($"/proc/{Pid}/task"))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(task, "stat"));
                    threads[int.Parse(Path.GetFileName(task), System.Globalization.CultureInfo.InvariantCulture)] = (stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')], Ticks(stat));
                }
                catch (IOException)
                {
                    // The thread ended meanwhile: its ticks are in the process's.
                }
            }
            return new CpuSample(process, threads);
        }

        // utime + stime: fields 14 and 15 of stat(5); after the command name, field 3 is at index 0.
        private static long Ticks(string stat)
        {
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        }

        /// <summary>For a failure's output: whether the server runs, its descriptor limit and what its descriptors are.</summary>
        public string Describe()
        {
            if (_process.HasExited)
            {
                return $"The server exited with {_process.ExitCode}.";
            }
            try
            {
                var limit = File.ReadLines($"/proc/{Pid}/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
                var kinds = new Dictionary<string, int>();
                foreach (var fd in Directory.GetFiles($"/proc/{Pid}/fd"))
                {
                    string target;
                    try
                    {
                        target = new FileInfo(fd).LinkTarget ?? "?";
                    }
                    catch (IOException)
                    {
                        continue; // closed meanwhile
                    }
                    var kind = target.EndsWith(".dll", StringComparison.Ordinal) ? "assemblies" : target.Split(':', '[')[0];
                    kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
                }
                return $"The server runs with {kinds.Values.Sum()} descriptors open ({string.Join(", ", kinds.Select(k => $"{k.Key} {k.Value}"))}); {string.Join(' ', (limit ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))}";
            }
            catch (IOException e)
            {
                return $"The server runs ({e.Message}).";
            }
        }

        private bool _disposed;

        public async ValueTask DisposeAsync()
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            await _process.WaitForExitAsync().DefaultTimeout();
            _process.Dispose();
            _newLine.Dispose();
        }
    }

    /// <summary>One reading of <see cref="ChildServer.Cpu"/>.</summary>
    internal sealed record CpuSample(long ProcessTicks, Dictionary<int, (string Name, long Ticks)> Threads)
    {
        // The name the runtime gives its tiered-compilation worker (thread names are cut to 15 bytes).
        private const string TieredCompiler = ".NET Tiered Com";

        /// <summary>
        /// Seconds the process used since <paramref name="before"/> besides its tiered compiler, the compiler's
        /// share, and each thread's. A compiler thread that ended meanwhile stays counted as the process's.
        /// </summary>
        public (double Cpu, double Compiler, string ByThread) Since(CpuSample before)
        {
            long Delta(int tid, long ticks) => ticks - (before.Threads.TryGetValue(tid, out var earlier) ? earlier.Ticks : 0);
            var compiler = Threads.Where(t => t.Value.Name == TieredCompiler).Sum(t => Delta(t.Key, t.Value.Ticks));
            var byThread = string.Join(", ", Threads.Select(t => (t.Value.Name, Ticks: Delta(t.Key, t.Value.Ticks))).Where(t => t.Ticks > 0).Select(t => $"{t.Name.Trim()} {t.Ticks / 100.0:F2}"));
            return ((ProcessTicks - before.ProcessTicks - compiler) / 100.0, compiler / 100.0, byThread);
        }
    }
}
