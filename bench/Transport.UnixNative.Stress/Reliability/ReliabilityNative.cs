using System.Runtime.InteropServices;

namespace Transport.UnixNative.Bench.Native;

/// <summary>The calls the reliability drivers need beyond System.Net.Sockets.</summary>
internal static unsafe partial class BenchNative
{
    private const short POLLRDHUP = 0x2000;
    private const int EINTR = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    /// <summary>
    /// Blocks until the peer of <paramref name="fd"/> has closed or shut down its side, without
    /// reading: a client that never reads still learns when the server cut it. False on timeout.
    /// </summary>
    internal static bool WaitForHangUp(nint fd, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            var left = deadline - Environment.TickCount64;
            if (left <= 0)
            {
                return false;
            }
            var entry = new PollFd { Fd = (int)fd, Events = POLLRDHUP };
            var n = poll(&entry, 1, (int)left);
            if (n > 0)
            {
                // Only POLLRDHUP was asked for; POLLHUP and POLLERR come unasked: all mean the peer is gone.
                return true;
            }
            if (n < 0 && Marshal.GetLastPInvokeError() != EINTR)
            {
                throw new IOException($"poll failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
    }

    /// <summary>The soft and hard RLIMIT_NOFILE of this process.</summary>
    internal static (ulong Soft, ulong Hard) FileLimits()
    {
        RLimit limit;
        return getrlimit(RLIMIT_NOFILE, &limit) == 0
            ? (limit.Current, limit.Maximum)
            : throw new IOException($"getrlimit(RLIMIT_NOFILE) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Tries to raise both limits to <paramref name="wanted"/> (needs CAP_SYS_RESOURCE above the hard limit).</summary>
    internal static bool TryRaiseFileLimit(ulong wanted)
    {
        var limit = new RLimit { Current = wanted, Maximum = wanted };
        return setrlimit(RLIMIT_NOFILE, &limit) == 0;
    }

    private const int MSG_NOSIGNAL = 0x4000;

    [LibraryImport(Libc, SetLastError = true)]
    private static partial nint send(nint fd, byte* buffer, nuint length, int flags);

    /// <summary>
    /// One packet on a blocking SOCK_SEQPACKET socket, empty ones included (a zero-length send is a
    /// legal, empty packet; we do not trust a managed wrapper to pass it through rather than skip it).
    /// </summary>
    internal static void SendPacket(nint fd, ReadOnlySpan<byte> packet)
    {
        fixed (byte* bytes = packet)
        {
            while (send(fd, bytes, (nuint)packet.Length, MSG_NOSIGNAL) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR)
                {
                    throw new IOException($"send of a {packet.Length}-byte packet failed: errno {errno}");
                }
            }
        }
    }
}
