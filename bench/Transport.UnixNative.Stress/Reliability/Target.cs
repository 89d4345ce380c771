using System.Diagnostics;
using System.Net.Sockets;

namespace Transport.UnixNative.Stress.Reliability;

/// <summary>One transport under test: how to start the sample on it, and what to call it in the table.</summary>
internal sealed record Target(string Transport, string Label)
{
    public static readonly Target Native = new("native", "UnixNative");
    public static readonly Target Sockets = new("sockets", "Sockets");

    public static IReadOnlyList<Target> Both { get; } = [Native, Sockets];

    public bool IsOurs => Transport == "native";
}

/// <summary>What every check needs from the server beyond <see cref="ServerProcess"/>: its descriptors and one probe.</summary>
internal static class ServerChecks
{
    /// <summary>
    /// The same fixed gen0 budget for both servers where memory is compared. Without it the GC sizes
    /// gen0 as it goes: an idle round lands near one of two values for either transport (about 10 or
    /// 12.5 KiB per connection) depending on whether a gen2 collection ran before the sample, and a
    /// churned server's RSS steps up by one 4 MiB region whenever the GC grows its budget (seen on
    /// both transports, 0–2 times in 1–5 million requests, with the managed heap flat).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> FixedGen0Budget = new Dictionary<string, string>
    {
        ["DOTNET_GCgen0size"] = "0x400000",
    };

    /// <summary><see cref="FixedGen0Budget"/> as the report names it.</summary>
    public static string FixedGen0BudgetSetting => string.Join(" ", FixedGen0Budget.Select(p => $"{p.Key}={p.Value}"));

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    public static async Task<ServerProcess> StartAsync(string dll, Target target, ServerAddress listen, CancellationToken cancellationToken,
        ServerAddress? seqpacket = null, IReadOnlyList<string>? extraArgs = null, int? fileLimit = null, IReadOnlyDictionary<string, string>? environment = null)
        => await ServerProcess.StartAsync(dll, new ServerSpec(target.Transport, listen, seqpacket, Http2Only: false, extraArgs, fileLimit)
        {
            Environment = environment ?? new Dictionary<string, string>(),
        }, cancellationToken).ConfigureAwait(false);

    /// <summary>Open descriptors of the server (/proc/PID/fd), or -1 once it has gone.</summary>
    public static int FdCount(this ServerProcess server)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{server.Pid}/fd").Count();
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>Open sockets of the server (the listeners and every connection): what a leaked connection holds.</summary>
    public static int SocketCount(this ServerProcess server)
    {
        try
        {
            var count = 0;
            foreach (var entry in Directory.EnumerateFileSystemEntries($"/proc/{server.Pid}/fd"))
            {
                try
                {
                    if (new FileInfo(entry).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                    {
                        count++;
                    }
                }
                catch (IOException)
                {
                    // Closed while we looked.
                }
            }
            return count;
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    public static bool IsAlive(this ServerProcess server) => Directory.Exists($"/proc/{server.Pid}");

    /// <summary>CPU and memory now, or null once the server has gone.</summary>
    public static ProcSample? TrySample(this ServerProcess server)
    {
        try
        {
            return server.Sample();
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or FileNotFoundException or IOException or FormatException)
        {
            return null;
        }
    }

    /// <summary>"UnixNative: …; Sockets: …." for a note.</summary>
    public static string PerTarget(IReadOnlyList<Target> targets, Func<Target, string> text)
        => string.Join("; ", targets.Select(t => $"{t.Label}: {text(t)}")) + ".";

    /// <summary>Polls /proc until the server holds at most <paramref name="sockets"/> sockets; the seconds it took, or null.</summary>
    public static async Task<double?> WaitForSocketsAtMostAsync(this ServerProcess server, int sockets, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            var now = server.SocketCount();
            if (now >= 0 && now <= sockets)
            {
                return Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            if (now < 0 || Stopwatch.GetElapsedTime(start) > timeout)
            {
                return null;
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Polls /proc until the server holds at most <paramref name="fds"/> descriptors: closing a
    /// connection is the server's business and sends nothing we could wait on. Returns the seconds it took, or null.
    /// </summary>
    public static async Task<double?> WaitForFdsAtMostAsync(this ServerProcess server, int fds, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            var now = server.FdCount();
            if (now >= 0 && now <= fds)
            {
                return Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            if (now < 0 || Stopwatch.GetElapsedTime(start) > timeout)
            {
                return null;
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Polls /proc until the server holds at least <paramref name="fds"/> descriptors; false after <paramref name="timeout"/>.</summary>
    public static async Task<bool> WaitForFdsAtLeastAsync(this ServerProcess server, int fds, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        while (server.FdCount() is var now && now < fds)
        {
            if (now < 0 || Stopwatch.GetElapsedTime(start) > timeout)
            {
                return false;
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>One GET /plaintext on a new connection: true when it answers 200 within <paramref name="timeout"/>.</summary>
    public static async Task<bool> ServesAsync(ServerAddress address, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            using var socket = address.CreateClientSocket();
            await socket.ConnectAsync(address.EndPoint, deadline.Token).ConfigureAwait(false);
            await socket.SendAsync(Requests.Plaintext, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            return await new HttpResponseReader(socket.SocketType).ReadAsync(socket, deadline.Token).ConfigureAwait(false) == 200;
        }
        catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }

    /// <summary>Probes every 50 ms until the server answers; the seconds until then, or null after <paramref name="timeout"/>.</summary>
    public static async Task<double?> SecondsUntilServesAsync(ServerAddress address, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start) < timeout)
        {
            if (await ServesAsync(address, TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false))
            {
                return Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            // A server that does not accept sends nothing to wait on: ask again shortly.
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
        return null;
    }

    /// <summary>"fail:"/"crit:" entries the server logged, with the first, for a note; and why it died, if it did.</summary>
    public static string ErrorSummary(this ServerProcess server)
    {
        var summary = server.ErrorLogCount == 0 ? "no errors logged" : $"{server.ErrorLogCount} error(s) logged, first: {Shorten(server.FirstErrorLog)}";
        if (!server.IsAlive())
        {
            var lines = server.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var crash = lines.FirstOrDefault(l => l.Contains("Unhandled exception", StringComparison.Ordinal) || l.StartsWith("Out of memory", StringComparison.Ordinal))
                ?? lines.LastOrDefault();
            summary += crash is null ? "; the server process exited (no output)" : $"; the server process exited, its output ending: \"{Shorten(crash)}\"";
        }
        return summary;
    }

    public static string Shorten(string? text, int max = 160)
        => text is null ? "" : text.Length <= max ? text : text[..max] + "…";
}

internal static class Requests
{
    public static readonly byte[] Plaintext = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray();
}
