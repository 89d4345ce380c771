using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>socket(2), bind(2), listen(2), accept4(2), connect(2), shutdown(2), get/setsockopt(2).</summary>
internal static unsafe partial class Socket
{
    internal const int SHUT_WR = 1;
    internal const int SHUT_RDWR = 2;

    internal const int SO_TYPE = 3;
    internal const int SO_ERROR = 4;
    internal const int SO_SNDBUF = 7;
    internal const int SO_PASSCRED = 16;
    internal const int SO_ACCEPTCONN = 30;
    internal const int SO_DOMAIN = 39;

    [LibraryImport(Libc.Name, EntryPoint = "socket", SetLastError = true)]
    private static partial int socket_raw(int domain, int type, int protocol);

    /// <summary>A new non-blocking, close-on-exec socket, or an invalid handle with errno set.</summary>
    internal static SafeFdHandle Create(int domain, int type)
    {
        var fd = socket_raw(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        return new SafeFdHandle(fd);
    }

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int bind(SafeFdHandle fd, byte* address, int addressLength);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int listen(SafeFdHandle fd, int backlog);

    // Raw fd: only the listener's owner calls it, and the owner keeps the handle alive across the call.
    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int accept4(int fd, byte* address, int* addressLength, int flags);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int connect(SafeFdHandle fd, byte* address, int addressLength);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int shutdown(int fd, int how);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int getsockopt(int fd, int level, int name, void* value, int* valueLength);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int setsockopt(int fd, int level, int name, void* value, int valueLength);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int getsockname(SafeFdHandle fd, byte* address, int* addressLength);

    /// <summary>Sets an <c>int</c> socket option: 0, or -1 with errno set.</summary>
    internal static int SetIntOption(int fd, int level, int name, int value) => setsockopt(fd, level, name, &value, sizeof(int));

    /// <summary>An <c>int</c> socket option, or -1 with errno set.</summary>
    internal static int GetIntOption(int fd, int level, int name, out int value)
    {
        int v = 0;
        int length = sizeof(int);
        var rc = getsockopt(fd, level, name, &v, &length);
        value = v;
        return rc;
    }
}
