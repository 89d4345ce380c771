using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>poll(2), used only to look at a descriptor's readiness without waiting.</summary>
internal static unsafe partial class Poll
{
    internal const short POLLOUT = 0x4;

    [LibraryImport(Libc.Name, EntryPoint = "poll", SetLastError = true)]
    private static partial int poll_raw(PollFd* fds, nuint count, int timeout);

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

/// <summary><c>struct pollfd</c>: int, short, short.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short ReturnedEvents;
}
