using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>poll(2), for the few blocking waits off the event loop (the hand-over control socket) and a readiness look without waiting.</summary>
internal static unsafe partial class Poll
{
    internal const short POLLIN = 0x1;
    internal const short POLLOUT = 0x4;
    internal const short POLLERR = 0x8;
    internal const short POLLHUP = 0x10;

    [LibraryImport(Libc.Name, EntryPoint = "poll", SetLastError = true)]
    private static partial int poll_raw(PollFd* fds, nuint count, int timeoutMilliseconds);

    /// <summary>
    /// Waits until one of <paramref name="fds"/> is ready (EINTR retried with the time left).
    /// Returns the index of the first ready descriptor, -1 on timeout, or -2 with <paramref name="errno"/>.
    /// </summary>
    internal static int WaitAny(ReadOnlySpan<SafeFdHandle> fds, short events, TimeSpan timeout, out int errno)
    {
        Span<PollFd> entries = stackalloc PollFd[fds.Length];
        var added = new bool[fds.Length];
        try
        {
            for (var i = 0; i < fds.Length; i++)
            {
                fds[i].DangerousAddRef(ref added[i]);
                entries[i] = new PollFd { Fd = fds[i].Fd, Events = events };
            }
            var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (true)
            {
                var left = (int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue);
                int rc;
                fixed (PollFd* p = entries)
                {
                    rc = poll_raw(p, (nuint)entries.Length, left);
                }
                errno = rc < 0 ? Libc.LastErrno : 0;
                if (rc < 0 && errno == Libc.EINTR)
                {
                    continue;
                }
                if (rc < 0)
                {
                    return -2;
                }
                if (rc == 0)
                {
                    return -1;
                }
                for (var i = 0; i < entries.Length; i++)
                {
                    if (entries[i].Returned != 0)
                    {
                        return i;
                    }
                }
            }
        }
        finally
        {
            for (var i = 0; i < fds.Length; i++)
            {
                if (added[i])
                {
                    fds[i].DangerousRelease();
                }
            }
        }
    }

    /// <summary>Whether <paramref name="fd"/> can be written now; an error counts as writable (the next call reports it).</summary>
    internal static bool IsWritableNow(SafeFdHandle fd)
    {
        var added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            var p = new PollFd { Fd = fd.Fd, Events = POLLOUT };
            int rc;
            while ((rc = poll_raw(&p, 1, 0)) < 0 && Libc.LastErrno == Libc.EINTR)
            {
            }
            return rc != 0;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }
}

/// <summary><c>struct pollfd</c>: 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short Returned;
}
