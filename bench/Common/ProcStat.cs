using System.Diagnostics;
using System.Globalization;

namespace Transport.UnixNative.Bench.Common;

/// <summary>What /proc says about a process at one instant.</summary>
/// <param name="CpuSeconds">utime + stime of all its threads.</param>
/// <param name="RssKiB">VmRSS: resident memory now.</param>
/// <param name="PeakRssKiB">VmHWM: the highest resident memory so far.</param>
internal readonly record struct ProcSample(double CpuSeconds, long RssKiB, long PeakRssKiB);

/// <summary>CPU time of the whole machine and of this process with its reaped children (h2load), at one instant.</summary>
/// <param name="BusySeconds">All CPUs' non-idle time since boot (/proc/stat).</param>
/// <param name="OursSeconds">This process's utime+stime plus that of its waited-for children (cutime+cstime).</param>
internal readonly record struct MachineSample(double BusySeconds, double OursSeconds);

/// <summary>Reads CPU time and memory of a process from /proc/PID/stat and /proc/PID/status.</summary>
internal static class ProcStat
{
    private static readonly Lazy<long> s_clockTicks = new(ReadClockTicks);

    /// <summary>Clock ticks per second, the unit of utime/stime (<c>getconf CLK_TCK</c>).</summary>
    public static long ClockTicks => s_clockTicks.Value;

    public static ProcSample Read(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var status = File.ReadAllLines($"/proc/{pid}/status");
        return new ProcSample(
            ParseCpuTicks(stat) / (double)ClockTicks,
            ParseStatusKiB(status, "VmRSS:"),
            ParseStatusKiB(status, "VmHWM:"));
    }

    /// <summary>
    /// CPU time in seconds of the process's threads named <paramref name="threadName"/>, to the nanosecond where the
    /// kernel keeps /proc/PID/task/TID/schedstat (its first field: time on a CPU, ns), else from the 10-ms ticks of
    /// stat; null when it has no such thread. A few milliseconds of JIT work are invisible in ticks.
    /// </summary>
    public static double? ReadThreadCpuSeconds(int pid, string threadName)
    {
        double? seconds = null;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') != threadName)
                {
                    continue;
                }
                var schedstat = Path.Combine(task, "schedstat");
                seconds = (seconds ?? 0) + (File.Exists(schedstat)
                    ? long.Parse(File.ReadAllText(schedstat).Split(' ', 2)[0], NumberStyles.None, CultureInfo.InvariantCulture) / 1e9
                    : ParseCpuTicks(File.ReadAllText(Path.Combine(task, "stat"))) / (double)ClockTicks);
            }
            catch (IOException)
            {
                // The thread ended between listing and reading.
            }
        }
        return seconds;
    }

    /// <summary>
    /// The machine's busy time and ours. The difference between two samples, less the server's
    /// own, is what other processes used: on a shared machine that is the noise in the numbers.
    /// </summary>
    public static MachineSample ReadMachine()
    {
        var cpu = File.ReadLines("/proc/stat").First(l => l.StartsWith("cpu ", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // user nice system idle iowait irq softirq steal (guest time is already inside user).
        // irq/softirq are left out: loopback TCP does much of its work in softirq on behalf of
        // our own client and server, which no process is charged for.
        long Field(int i) => long.Parse(cpu[i], CultureInfo.InvariantCulture);
        var busy = Field(1) + Field(2) + Field(3) + Field(8);
        var self = File.ReadAllText("/proc/self/stat");
        var fields = self[(self.LastIndexOf(')') + 2)..].Split(' ');
        var ours = ParseCpuTicks(self)
                 + long.Parse(fields[16 - 3], CultureInfo.InvariantCulture)
                 + long.Parse(fields[17 - 3], CultureInfo.InvariantCulture);
        return new MachineSample(busy / (double)ClockTicks, ours / (double)ClockTicks);
    }

    /// <summary>utime + stime (fields 14 and 15) of a /proc/PID/stat line, in clock ticks.</summary>
    public static long ParseCpuTicks(string stat)
    {
        // Field 2 is "(comm)" and comm may hold spaces or parentheses: count from the last ')'.
        var afterComm = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // afterComm[0] is field 3 (state), so field N is afterComm[N - 3].
        return long.Parse(afterComm[14 - 3], CultureInfo.InvariantCulture)
             + long.Parse(afterComm[15 - 3], CultureInfo.InvariantCulture);
    }

    /// <summary>A "Key:   1234 kB" line of /proc/PID/status, in KiB.</summary>
    public static long ParseStatusKiB(IEnumerable<string> status, string key)
    {
        foreach (var line in status)
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                var value = line[key.Length..].Trim();
                return long.Parse(value[..value.IndexOf(' ')], CultureInfo.InvariantCulture);
            }
        }
        throw new FormatException($"/proc status has no '{key}' line.");
    }

    private static long ReadClockTicks()
    {
        using var getconf = Process.Start(new ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true })
            ?? throw new InvalidOperationException("could not start getconf");
        var text = getconf.StandardOutput.ReadToEnd().Trim();
        getconf.WaitForExit();
        return long.Parse(text, CultureInfo.InvariantCulture);
    }
}
