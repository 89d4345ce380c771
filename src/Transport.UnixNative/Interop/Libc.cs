using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

// Interop buffers are always written before they are read; skip zeroing stackallocs.
[module: SkipLocalsInit]

namespace Transport.UnixNative.Interop;

/// <summary>The C library (errno values and their names are in src/Shared/Errno.cs, shared with the client).</summary>
internal static partial class Libc
{
    // The runtime maps "libc" to the platform's C library (libc.so.6 on glibc).
    internal const string Name = "libc";

    [LibraryImport(Name, SetLastError = true)]
    internal static partial int close(int fd);

    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial nint write(int fd, void* buffer, nuint count);

    internal const int F_GETFL = 3;
    internal const int F_SETFL = 4;
    internal const int O_NONBLOCK = 0x800;
    internal const int F_DUPFD_CLOEXEC = 1030;

    [LibraryImport(Name, SetLastError = true)]
    internal static partial int fcntl(SafeFdHandle fd, int cmd, int arg);

    internal const int F_GETFD = 1;
    internal const int F_SETFD = 2;
    internal const int FD_CLOEXEC = 1;

    /// <summary>For inherited descriptors that have no owner yet (socket activation).</summary>
    [LibraryImport(Name, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int fcntl_raw(int fd, int cmd, int arg);

    /// <summary>A close-on-exec duplicate of <paramref name="fd"/> (the same open socket), or an invalid handle with errno set.</summary>
    internal static SafeFdHandle Duplicate(SafeFdHandle fd) => new(fcntl(fd, F_DUPFD_CLOEXEC, 3));
}
