using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>epoll(7), recv(2) and send(2) for the client's inline connection stream (<c>InlineSocketStream</c>).</summary>
internal static unsafe partial class ClientEpoll
{
    internal const int EPOLL_CLOEXEC = 0x80000;
    internal const int EPOLL_CTL_ADD = 1;
    internal const int EPOLL_CTL_DEL = 2;

    internal const uint EPOLLIN = 0x001;
    internal const uint EPOLLOUT = 0x004;
    internal const uint EPOLLERR = 0x008;
    internal const uint EPOLLHUP = 0x010;
    internal const uint EPOLLRDHUP = 0x2000;
    internal const uint EPOLLET = 1u << 31;

    /// <summary><c>struct epoll_event</c> is packed (12 bytes) on x86-64 only, 16 bytes elsewhere.</summary>
    internal static readonly bool IsPacked = RuntimeInformation.ProcessArchitecture == Architecture.X64;

    internal static int EventSize => IsPacked ? 12 : 16;

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int epoll_create1(int flags);

    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial int epoll_wait(int epfd, byte* events, int maxEvents, int timeout);

    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial nint send(int fd, byte* buffer, nuint length, int flags);

    internal static int Control(int epfd, int op, int fd, uint events, ulong data)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + (IsPacked ? 4 : 8)) = data;
        return epoll_ctl(epfd, op, fd, ev);
    }

    /// <summary>Waits for events without a timeout; returns how many <paramref name="buffer"/> holds (-1 on EINTR).</summary>
    internal static int Wait(int epfd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return epoll_wait(epfd, p, buffer.Length / EventSize, -1);
        }
    }

    internal static void ReadEvent(ReadOnlySpan<byte> buffer, int index, out uint events, out ulong data)
    {
        var ev = buffer[(index * EventSize)..];
        events = MemoryMarshal.Read<uint>(ev);
        data = MemoryMarshal.Read<ulong>(ev[(IsPacked ? 4 : 8)..]);
    }

    /// <summary>A non-blocking recv: bytes read, 0 at end of stream, or -1 with the errno in <paramref name="errno"/>.</summary>
    internal static nint Receive(SafeHandle socket, Span<byte> buffer, out int errno)
    {
        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            fixed (byte* p = buffer)
            {
                var n = recv((int)socket.DangerousGetHandle(), p, (nuint)buffer.Length, Message.MSG_DONTWAIT);
                errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                return n;
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>A non-blocking send without SIGPIPE: bytes sent, or -1 with the errno in <paramref name="errno"/>.</summary>
    internal static nint Send(SafeHandle socket, ReadOnlySpan<byte> buffer, out int errno)
    {
        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            fixed (byte* p = buffer)
            {
                var n = send((int)socket.DangerousGetHandle(), p, (nuint)buffer.Length, Message.MSG_DONTWAIT | Message.MSG_NOSIGNAL);
                errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                return n;
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }
}
