using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

// Interop buffers are always written before they are read; skip zeroing stackallocs.
[module: SkipLocalsInit]

namespace Transport.UnixNative.Interop;

/// <summary>The C library, errno values (Linux, same on x86-64 and arm64) and their names.</summary>
internal static partial class Libc
{
    // The runtime maps "libc" to the platform's C library (libc.so.6 on glibc).
    internal const string Name = "libc";

    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EBADF = 9;
    internal const int EAGAIN = 11;
    internal const int ENOMEM = 12;
    internal const int EACCES = 13;
    internal const int EEXIST = 17;
    internal const int ENOTDIR = 20;
    internal const int EINVAL = 22;
    internal const int ENFILE = 23;
    internal const int EMFILE = 24;
    internal const int EPIPE = 32;
    internal const int ENAMETOOLONG = 36;
    internal const int ELOOP = 40;
    internal const int ENOTSOCK = 88;
    internal const int EMSGSIZE = 90;
    internal const int EPROTOTYPE = 91;
    internal const int EOPNOTSUPP = 95;
    internal const int EADDRINUSE = 98;
    internal const int ECONNABORTED = 103;
    internal const int ECONNRESET = 104;
    internal const int ENOBUFS = 105;
    internal const int ENOTCONN = 107;
    internal const int ETIMEDOUT = 110;
    internal const int ECONNREFUSED = 111;

    /// <summary>The errno of the last call made with <c>SetLastError = true</c>.</summary>
    internal static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>"ECONNREFUSED (Connection refused)": the symbolic name people search for, then the text.</summary>
    internal static string Describe(int errno) => $"{ErrnoName(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})";

    internal static string ErrnoName(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EINTR => "EINTR",
        EBADF => "EBADF",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EEXIST => "EEXIST",
        ENOTDIR => "ENOTDIR",
        EINVAL => "EINVAL",
        ENFILE => "ENFILE",
        EMFILE => "EMFILE",
        EPIPE => "EPIPE",
        ENAMETOOLONG => "ENAMETOOLONG",
        ELOOP => "ELOOP",
        ENOTSOCK => "ENOTSOCK",
        EMSGSIZE => "EMSGSIZE",
        EPROTOTYPE => "EPROTOTYPE",
        EOPNOTSUPP => "EOPNOTSUPP",
        EADDRINUSE => "EADDRINUSE",
        ECONNABORTED => "ECONNABORTED",
        ECONNRESET => "ECONNRESET",
        ENOBUFS => "ENOBUFS",
        ENOTCONN => "ENOTCONN",
        ETIMEDOUT => "ETIMEDOUT",
        ECONNREFUSED => "ECONNREFUSED",
        _ => $"errno {errno}",
    };

    [LibraryImport(Name, SetLastError = true)]
    internal static partial int close(int fd);

    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial nint write(int fd, void* buffer, nuint count);

    internal const int F_GETFL = 3;
    internal const int F_SETFL = 4;
    internal const int O_NONBLOCK = 0x800;

    [LibraryImport(Name, SetLastError = true)]
    internal static partial int fcntl(SafeFdHandle fd, int cmd, int arg);
}
