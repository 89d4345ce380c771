using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>socketpair(2): two connected unix sockets with no name.</summary>
internal static unsafe partial class Socket
{
    [LibraryImport(Libc.Name, EntryPoint = "socketpair", SetLastError = true)]
    private static partial int socketpair_raw(int domain, int type, int protocol, int* fds);

    /// <summary>A connected pair, both ends non-blocking and close-on-exec; 0 or errno.</summary>
    internal static int CreatePair(int type, out SafeFdHandle first, out SafeFdHandle second)
    {
        var fds = stackalloc int[2];
        if (socketpair_raw(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
        {
            first = second = new SafeFdHandle();
            return Libc.LastErrno;
        }
        first = new SafeFdHandle(fds[0]);
        second = new SafeFdHandle(fds[1]);
        return 0;
    }
}
