using System.Diagnostics;
using System.Globalization;
using Transport.UnixNative.Stress.Reliability;

namespace Transport.UnixNative.Stress.Security;

/// <summary>The suite's three parts; each adds its rows to the report.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class SecurityChecks
{
    private static readonly UnixFileMode VictimMode = (UnixFileMode)0b110_100_100; // 0644

    /// <summary>
    /// A peer of another uid floods the server with descriptors (the issue's reproduction) while a plain
    /// curl client keeps asking; the server's descriptor count is sampled from /proc.
    /// </summary>
    public static async Task FloodAsync(SecurityContext c)
    {
        var o = c.Options;
        var listen = Addresses.Stream();
        // 0666: the flood comes from another uid, which needs write permission on the socket file.
        await using var server = await ServerChecks.StartAsync(c.SampleDll, Target.Native, listen, c.CancellationToken,
            extraArgs: ["--socket-mode", "0666"], fileLimit: o.FloodFileLimit).ConfigureAwait(false);
        var before = server.FdCount();
        c.Progress($"server pid {server.Pid}, {before} descriptors, RLIMIT_NOFILE {o.FloodFileLimit}; flooding from {SecurityPeers.OtherUser} for {o.FloodSeconds} s");
        // The sender's own limit bounds descriptors in flight (unix_inflight): give it its hard limit.
        using var flood = PeerProcess.Start("bash", ["-c", "ulimit -n \"$(ulimit -Hn)\"; exec \"$@\"", "bash", "setpriv", .. SecurityPeers.As(SecurityPeers.OtherUser), SecurityPeers.Python,
            c.Peers.Script("flood.py"), listen.Path, o.FloodConnections.ToString(CultureInfo.InvariantCulture), o.FloodSeconds.ToString(CultureInfo.InvariantCulture)]);
        var peak = before;
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                var now = server.FdCount();
                if (now < 0)
                {
                    return;
                }
                peak = Math.Max(peak, now);
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
            }
        }, CancellationToken.None);
        int served = 0, asked = 0;
        while (!flood.HasExited)
        {
            c.CancellationToken.ThrowIfCancellationRequested();
            asked++;
            var (exit, body) = await PeerProcess.RunAsync("curl", ["-sS", "-m", "5", "--unix-socket", listen.Path, "http://localhost/plaintext"],
                TimeSpan.FromSeconds(10), c.CancellationToken).ConfigureAwait(false);
            if (exit == 0 && body == "Hello, World!")
            {
                served++;
            }
            // A client every half second: the point is whether one gets through, not load.
            await Task.Delay(500, c.CancellationToken).ConfigureAwait(false);
        }
        await stopSampling.CancelAsync().ConfigureAwait(false);
        await sampler.ConfigureAwait(false);
        var alive = server.IsAlive();
        var servesAfter = alive && await ServerChecks.ServesAsync(listen, TimeSpan.FromSeconds(5), c.CancellationToken).ConfigureAwait(false);
        const string area = "descriptor flood";
        c.Report.Note($"Descriptor flood: {o.FloodConnections} connections from {SecurityPeers.OtherUser}, each holding GET /wait/86400 and pipelining writes that carry 253 /dev/null descriptors (socket.send_fds), round-robin and reconnecting, for {o.FloodSeconds} s; the server's RLIMIT_NOFILE {o.FloodFileLimit:N0} (soft and hard); a curl GET /plaintext every 0.5 s meanwhile.");
        c.Report.Row(area, "peak descriptors held by the server (/proc/PID/fd)",
            string.Create(CultureInfo.InvariantCulture, $"{(peak >= o.FloodFileLimit * 9 / 10 ? "**" : "")}{peak:N0} of {o.FloodFileLimit:N0} ({100.0 * peak / o.FloodFileLimit:F0} %){(peak >= o.FloodFileLimit * 9 / 10 ? "**" : "")}; {before} before the flood"));
        c.Report.Row(area, "server survived", alive
            ? (servesAfter ? "yes, and it answers after" : "alive, but it does not answer after") + $" ({server.ErrorSummary()})"
            : "**no**: " + server.ErrorSummary());
        c.Report.Row(area, "plain curl client served during the flood", $"{served} of {asked} requests OK" + (served == asked ? "" : " **(some refused)**"));
        c.Report.Row(area, "the flooding peer", ServerChecks.Shorten(flood.Output.Trim().ReplaceLineEndings(" "), 200));
        c.Progress($"peak {peak} of {o.FloodFileLimit}, alive {alive}, curl {served}/{asked}");
    }

    public static async Task RacesAsync(SecurityContext c)
    {
        var shared = NewDirectory("unx-shr", (UnixFileMode)0b111_111_111); // 0777, no sticky bit: a group-writable run dir
        var victimDirectory = NewDirectory("unx-vic", (UnixFileMode)0b111_101_101);
        var victim = Path.Combine(victimDirectory, "victim");
        File.WriteAllText(victim, "a root-owned file the racer points links at\n");
        File.SetUnixFileMode(victim, VictimMode);
        var tries = c.Options.Tries;
        c.Report.Note($"Races: the server runs as root; the racer, {SecurityPeers.OtherUser}, renames a symlink to a root-owned 0644 file over the socket as soon as one appears at the path, in a 0777 directory (no sticky bit); the suite clears the path between tries. The lock file is created and flock'ed by {SecurityPeers.OtherUser} before the server starts.");
        try
        {
            // (a) the listening socket's path, swapped for a link between bind and chmod.
            var socketPath = Path.Combine(shared, "x.sock");
            var a = await SymlinkRaceAsync(c, socketPath, victim, tries, () =>
            {
                var own = Addresses.Stream();
                return (new[] { "--urls", $"http://unix:{socketPath};http://unix:{own.Path}", "--socket-mode", "0666" }, own, false);
            }).ConfigureAwait(false);
            c.Report.Row($"races ({tries} tries)",
                "symlink at a listening socket's path", a);

            // (b) the hand-over control socket: bind, then chmod(path, 0600).
            var controlPath = Path.Combine(shared, "h.ctl");
            var b = await SymlinkRaceAsync(c, controlPath, victim, tries, () =>
            {
                var own = Addresses.Stream();
                return (new[] { "--urls", $"http://unix:{own.Path}", "--handover", controlPath }, own, true);
            }).ConfigureAwait(false);
            c.Report.Row($"races ({tries} tries)",
                "symlink at the hand-over control socket's path (`--handover PATH`)", b);

            // (c) a lock file another user made and holds.
            c.Report.Row($"races ({tries} tries)", $"`PATH.lock` pre-created and flock'ed by {SecurityPeers.OtherUser}", await ForeignLockAsync(c, tries).ConfigureAwait(false));
        }
        finally
        {
            Directory.Delete(shared, recursive: true);
            Directory.Delete(victimDirectory, recursive: true);
        }
    }

    /// <summary>
    /// Starts the server <paramref name="tries"/> times while a racer of another uid swaps a link to
    /// <paramref name="victim"/> in at <paramref name="racedPath"/>; counts how often the victim's mode changed.
    /// </summary>
    private static async Task<string> SymlinkRaceAsync(SecurityContext c, string racedPath, string victim, int tries,
        Func<(string[] Args, ServerAddress Probe, bool WaitForHandover)> spec)
    {
        using var racer = PeerProcess.Start("setpriv", [.. SecurityPeers.As(SecurityPeers.OtherUser), SecurityPeers.Python, c.Peers.Script("racer.py"), racedPath, victim]);
        if (await racer.FirstLineAsync(TimeSpan.FromSeconds(10), c.CancellationToken).ConfigureAwait(false) != "racing")
        {
            throw new InvalidOperationException($"the racer did not start: {racer.Output}");
        }
        int changed = 0, started = 0, failed = 0, handoverListening = 0;
        string? firstFailure = null, handoverRefused = null;
        var handoverChecked = false;
        var modes = new SortedSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < tries; i++)
        {
            var (args, probe, waitForHandover) = spec();
            handoverChecked |= waitForHandover;
            var run = await RunSampleAsync(c, args, probe, waitForHandover).ConfigureAwait(false);
            if (run.Served)
            {
                started++;
            }
            else
            {
                failed++;
                firstFailure ??= run.Output;
            }
            if (run.HandoverListening)
            {
                handoverListening++;
            }
            else if (waitForHandover)
            {
                handoverRefused ??= run.HandoverLine;
            }
            var mode = File.GetUnixFileMode(victim);
            if (mode != VictimMode)
            {
                changed++;
                modes.Add(Octal(mode));
                File.SetUnixFileMode(victim, VictimMode);
            }
            probe.DeleteSocketFile();
            // The racer's link stays after a swap: clear the path (the link itself, never its target) for the next try.
            File.Delete(racedPath);
        }
        c.Progress($"{racedPath}: victim changed {changed}/{tries}, started {started}, failed {failed}");
        var verdict = changed == 0 ? $"victim's mode unchanged in {tries} of {tries}" : $"**victim's mode changed in {changed} of {tries}** (to {string.Join(", ", modes)})";
        var handover = !handoverChecked ? "" : $"; its hand-over socket was listening {handoverListening} times" + (handoverRefused is null ? "" : $" (else: \"{ServerChecks.Shorten(handoverRefused, 160)}\")");
        return $"{verdict}; the server started {started} times, failed {failed}" + (firstFailure is null ? "" : $" (first: \"{ServerChecks.Shorten(firstFailure, 160)}\")") + handover;
    }

    private static async Task<string> ForeignLockAsync(SecurityContext c, int tries)
    {
        int started = 0, namesOwner = 0, other = 0;
        string? firstMessage = null;
        for (var i = 0; i < tries; i++)
        {
            var listen = Addresses.Stream();
            var lockPath = listen.Path + ".lock";
            try
            {
                using var holder = PeerProcess.Start("setpriv", [.. SecurityPeers.As(SecurityPeers.OtherUser), SecurityPeers.Python, c.Peers.Script("lockholder.py"), lockPath]);
                if (await holder.FirstLineAsync(TimeSpan.FromSeconds(10), c.CancellationToken).ConfigureAwait(false) != "locked")
                {
                    throw new InvalidOperationException($"the lock holder did not start: {holder.Output}");
                }
                var run = await RunSampleAsync(c, ["--urls", $"http://unix:{listen.Path}"], listen, waitForHandover: false).ConfigureAwait(false);
                if (run.Served)
                {
                    started++;
                }
                else
                {
                    firstMessage ??= run.Output;
                    if (run.Output.Contains(SecurityPeers.OtherUser, StringComparison.Ordinal) || run.Output.Contains("uid 995", StringComparison.Ordinal))
                    {
                        namesOwner++;
                    }
                    else
                    {
                        other++;
                    }
                }
            }
            finally
            {
                listen.DeleteSocketFile();
                File.Delete(lockPath);
            }
        }
        c.Progress($"foreign lock: started {started}, failed naming the owner {namesOwner}, failed otherwise {other}");
        return $"started {started} of {tries}; failed naming the owner {namesOwner}; failed otherwise {other}"
            + (firstMessage is null ? "" : $" (message: \"{ServerChecks.Shorten(firstMessage, 220)}\")");
    }

    /// <summary>
    /// Which uids an address kind admits by default: the sample runs as nobody (so its uid is neither root
    /// nor a test user) with each kind at its default, under umask 022, and each uid sends GET /plaintext.
    /// </summary>
    public static async Task ReachAsync(SecurityContext c)
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var streamPath = $"/tmp/unx-reach-{tag}.sock";
        var seqPath = $"/tmp/unx-reach-{tag}.seq";
        var kinds = new (string Label, string Kind, string Address)[]
        {
            ("path, stream (umask 022)", "stream", streamPath),
            ("`@name`, stream", "stream", $"@unx-reach-{tag}"),
            ("path, seqpacket (umask 022)", "seqpacket", seqPath),
            ("`@name`, seqpacket", "seqpacket", $"@unx-reach-seq-{tag}"),
        };
        var home = NewDirectory("unx-home", (UnixFileMode)0b111_000_000);
        File.SetUnixFileMode(home, (UnixFileMode)0b111_111_111);
        var dll = c.SampleDll;
        // nobody must read the sample: copy its output directory somewhere it can.
        var copy = Path.Combine(home, "app");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(dll)!))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }
        var env = new Dictionary<string, string> { ["HOME"] = home, ["DOTNET_CLI_HOME"] = home, ["ASPNETCORE_ENVIRONMENT"] = "Production", ["Logging__LogLevel__Default"] = "Warning" };
        using var server = PeerProcess.Start("bash", ["-c", "umask 022; exec \"$@\"", "bash", "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
            "dotnet", Path.Combine(copy, Path.GetFileName(dll)), "--transport", "native",
            "--urls", $"http://unix:{streamPath};http://unix:{kinds[1].Address}", "--seqpacket", seqPath, "--seqpacket", kinds[3].Address], env);
        try
        {
            var probe = new ServerAddress(AddressKind.UnixStream, streamPath, 0);
            if (await ServerChecks.SecondsUntilServesAsync(probe, TimeSpan.FromSeconds(30), c.CancellationToken).ConfigureAwait(false) is null)
            {
                throw new InvalidOperationException($"the sample (as nobody) did not answer on {streamPath}: {server.Output}");
            }
            var users = new (string Label, string[] Prefix)[]
            {
                ("root", []),
                ("nobody (the server's uid)", ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]),
                (SecurityPeers.OtherUser, ["setpriv", .. SecurityPeers.As(SecurityPeers.OtherUser)]),
                ($"{SecurityPeers.MemberUser} (group unx-app)", ["setpriv", .. SecurityPeers.As(SecurityPeers.MemberUser, withGroups: true)]),
            };
            c.Report.ReachColumns(users.Select(u => u.Label).ToArray());
            foreach (var (label, kind, address) in kinds)
            {
                var cells = new List<string>();
                foreach (var (_, prefix) in users)
                {
                    string[] command = [.. prefix, SecurityPeers.Python, c.Peers.Script("probe.py"), kind, address];
                    var (_, output) = await PeerProcess.RunAsync(command[0], command[1..], TimeSpan.FromSeconds(15), c.CancellationToken).ConfigureAwait(false);
                    cells.Add(output == "in" ? "**in**" : $"no ({output})");
                }
                c.Report.Reach(label, [.. cells]);
                c.Progress($"{label}: {string.Join(", ", cells)}");
            }
            var umask = File.ReadLines($"/proc/{server.Pid}/status").FirstOrDefault(l => l.StartsWith("Umask:", StringComparison.Ordinal))?.Split(':')[1].Trim();
            c.Report.Note($"Default reach: the sample ran as nobody with no access options, umask {umask ?? "?"}; \"no (…)\" is what the peer saw (an errno, or the connection closed before an answer).");
        }
        finally
        {
            server.Dispose();
            foreach (var path in new[] { streamPath, seqPath })
            {
                File.Delete(path);
                File.Delete(path + ".lock");
            }
            Directory.Delete(home, recursive: true);
        }
    }

    private sealed record SampleRun(bool Served, string Output, bool HandoverListening, string? HandoverLine);

    /// <summary>
    /// Starts the sample (as root) with <paramref name="args"/>; true once it answers on <paramref name="probe"/>,
    /// false with its output if it exits or gives no answer within 20 s. Stopped with SIGTERM, then killed.
    /// </summary>
    private static async Task<SampleRun> RunSampleAsync(SecurityContext c, string[] args, ServerAddress probe, bool waitForHandover)
    {
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
            ["Logging__Console__FormatterName"] = "simple",
        };
        using var server = PeerProcess.Start("dotnet", [c.SampleDll, "--transport", "native", .. args], env);
        var clock = Stopwatch.StartNew();
        var served = false;
        while (clock.Elapsed < TimeSpan.FromSeconds(20) && !server.HasExited)
        {
            if (await ServerChecks.ServesAsync(probe, TimeSpan.FromSeconds(1), c.CancellationToken).ConfigureAwait(false))
            {
                served = true;
                break;
            }
            // A starting process sends nothing to wait on but its socket.
            await Task.Delay(50, c.CancellationToken).ConfigureAwait(false);
        }
        if (served && waitForHandover)
        {
            // The hand-over socket is bound once the host has started: wait for its log line (listening or failed).
            while (clock.Elapsed < TimeSpan.FromSeconds(20) && !server.Output.Contains("Hand-over", StringComparison.Ordinal))
            {
                await Task.Delay(20, c.CancellationToken).ConfigureAwait(false);
            }
        }
        if (!server.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", server.Pid.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync(c.CancellationToken).ConfigureAwait(false);
            await server.WaitForExitAsync(TimeSpan.FromSeconds(10), c.CancellationToken).ConfigureAwait(false);
        }
        var output = server.Output;
        var handoverLine = output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("Hand-over", StringComparison.Ordinal));
        return new SampleRun(served, Summary(output), output.Contains("Hand-over: listening", StringComparison.Ordinal), handoverLine);
    }

    /// <summary>The lines that explain a failure: errors and the first lines, without the log's category noise.</summary>
    private static string Summary(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("info:", StringComparison.Ordinal) && !l.StartsWith("warn:", StringComparison.Ordinal) && !l.StartsWith("fail:", StringComparison.Ordinal) && !l.StartsWith("crit:", StringComparison.Ordinal))
            .Where(l => !l.StartsWith("at ", StringComparison.Ordinal));
        return string.Join(" | ", lines.Take(3)).Replace('|', '/');
    }

    private static string NewDirectory(string prefix, UnixFileMode mode)
    {
        var path = $"/tmp/{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 14)];
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode, 8);
}
