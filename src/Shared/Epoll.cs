// Compiled into the server (its event loops) and the client (its inline-completion loop).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>epoll(7) and eventfd(2).</summary>
internal static unsafe partial class Epoll
{
    internal const int EPOLL_CLOEXEC = 0x80000;
    internal const int EPOLL_CTL_ADD = 1;
    internal const int EPOLL_CTL_DEL = 2;
    internal const int EPOLL_CTL_MOD = 3;

    internal const uint EPOLLIN = 0x001;
    internal const uint EPOLLOUT = 0x004;
    internal const uint EPOLLERR = 0x008;
    internal const uint EPOLLHUP = 0x010;
    internal const uint EPOLLRDHUP = 0x2000;
    internal const uint EPOLLET = 1u << 31;

    internal const int EFD_NONBLOCK = 0x800;
    internal const int EFD_CLOEXEC = 0x80000;

    /// <summary>
    /// <c>struct epoll_event</c> is <c>__attribute__((packed))</c> on x86-64 only: 12 bytes there, 16 elsewhere.
    /// The loop reads events through <see cref="EventSize"/> so one build serves both.
    /// </summary>
    internal static readonly bool IsPacked = RuntimeInformation.ProcessArchitecture == Architecture.X64;

    internal static int EventSize => IsPacked ? sizeof(EpollEventPacked) : sizeof(EpollEventAligned);

    [LibraryImport(Libc.Name, EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int epoll_create1_raw(int flags);

    internal static SafeFdHandle Create() => new(epoll_create1_raw(EPOLL_CLOEXEC));

    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, void* ev);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int epoll_wait(int epfd, void* events, int maxEvents, int timeout);

    internal static int Control(int epfd, int op, int fd, uint events, ulong data)
    {
        if (IsPacked)
        {
            var ev = new EpollEventPacked { Events = events, Data = data };
            return epoll_ctl(epfd, op, fd, &ev);
        }
        var aligned = new EpollEventAligned { Events = events, Data = data };
        return epoll_ctl(epfd, op, fd, &aligned);
    }

    /// <summary>Reads event <paramref name="index"/> of a buffer filled by <see cref="epoll_wait"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ReadEvent(void* buffer, int index, out uint events, out ulong data)
    {
        if (IsPacked)
        {
            var ev = ((EpollEventPacked*)buffer)[index];
            events = ev.Events;
            data = ev.Data;
        }
        else
        {
            var ev = ((EpollEventAligned*)buffer)[index];
            events = ev.Events;
            data = ev.Data;
        }
    }

    /// <summary>Waits without a timeout for events into <paramref name="buffer"/>; how many it holds, or -1 (errno set; EINTR included).</summary>
    internal static int Wait(SafeFdHandle epoll, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return epoll_wait(epoll.Fd, p, buffer.Length / EventSize, -1);
        }
    }

    /// <summary>Reads event <paramref name="index"/> of a buffer filled by <see cref="Wait"/>.</summary>
    internal static void ReadEvent(ReadOnlySpan<byte> buffer, int index, out uint events, out ulong data)
    {
        fixed (byte* p = buffer)
        {
            ReadEvent(p, index, out events, out data);
        }
    }

    [LibraryImport(Libc.Name, EntryPoint = "eventfd", SetLastError = true)]
    private static partial int eventfd_raw(uint initialValue, int flags);

    internal static SafeFdHandle CreateEventFd() => new(eventfd_raw(0, EFD_NONBLOCK | EFD_CLOEXEC));
}

/// <summary><c>struct epoll_event</c> on x86-64: packed, 12 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
internal struct EpollEventPacked
{
    [FieldOffset(0)] public uint Events;
    [FieldOffset(4)] public ulong Data;
}

/// <summary><c>struct epoll_event</c> on other 64-bit architectures: 16 bytes, data 8-aligned.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct EpollEventAligned
{
    [FieldOffset(0)] public uint Events;
    [FieldOffset(8)] public ulong Data;
}
