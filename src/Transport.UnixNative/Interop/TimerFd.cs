using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>timerfd_create(2), timerfd_settime(2): a timer that is a descriptor, so an event loop waits on it like a socket.</summary>
internal static unsafe partial class TimerFd
{
    internal const int CLOCK_MONOTONIC = 1;
    internal const int TFD_NONBLOCK = 0x800;
    internal const int TFD_CLOEXEC = 0x80000;

    [LibraryImport(Libc.Name, EntryPoint = "timerfd_create", SetLastError = true)]
    private static partial int timerfd_create(int clockId, int flags);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int timerfd_settime(SafeFdHandle fd, int flags, ITimerSpec* newValue, ITimerSpec* oldValue);

    /// <summary>A non-blocking, close-on-exec monotonic timer, or an invalid handle with errno set.</summary>
    internal static SafeFdHandle Create() => new(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));

    /// <summary>Arms <paramref name="fd"/> to fire once after <paramref name="delay"/>; 0 or errno.</summary>
    internal static int ArmOnce(SafeFdHandle fd, TimeSpan delay)
    {
        var ticks = Math.Max(delay.Ticks, 1);
        var spec = new ITimerSpec
        {
            ValueSeconds = ticks / TimeSpan.TicksPerSecond,
            ValueNanoseconds = ticks % TimeSpan.TicksPerSecond * 100,
        };
        return timerfd_settime(fd, 0, &spec, null) == 0 ? 0 : Libc.LastErrno;
    }

    /// <summary>Reads the expiry count so the level-triggered readiness goes away; 0 or errno (EAGAIN: not expired).</summary>
    internal static int Drain(SafeFdHandle fd)
    {
        ulong expirations;
        while (true)
        {
            var added = false;
            try
            {
                fd.DangerousAddRef(ref added);
                if (Libc.read(fd.Fd, &expirations, sizeof(ulong)) >= 0)
                {
                    return 0;
                }
                var errno = Libc.LastErrno;
                if (errno != Libc.EINTR)
                {
                    return errno;
                }
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
}

/// <summary><c>struct itimerspec</c> on 64-bit Linux: interval then value, each a <c>struct timespec</c> of two longs.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ITimerSpec
{
    public long IntervalSeconds;
    public long IntervalNanoseconds;
    public long ValueSeconds;
    public long ValueNanoseconds;
}
