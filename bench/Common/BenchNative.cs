using System.Runtime.InteropServices;

namespace Transport.UnixNative.Bench.Native;

/// <summary>The few libc calls the harness itself needs (the transport's own interop lives in src).</summary>
internal static unsafe partial class BenchNative
{
    private const string Libc = "libc";

    internal const int SIGTERM = 15;
    private const int RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int kill(int pid, int signal);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int getrlimit(int resource, RLimit* limit);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int setrlimit(int resource, RLimit* limit);

    /// <summary>Raises this process's soft descriptor limit to its hard limit; returns the new soft limit.</summary>
    internal static ulong RaiseFileLimit()
    {
        RLimit limit;
        if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        {
            throw new IOException($"getrlimit(RLIMIT_NOFILE) failed: errno {Marshal.GetLastPInvokeError()}");
        }
        if (limit.Current < limit.Maximum)
        {
            limit.Current = limit.Maximum;
            if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            {
                throw new IOException($"setrlimit(RLIMIT_NOFILE, {limit.Maximum}) failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        return limit.Current;
    }
}
