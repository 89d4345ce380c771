using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>The C library calls only the server makes (shared ones: src/Shared/Libc.cs; errno values: src/Shared/Errno.cs).</summary>
internal static partial class Libc
{
    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial nint write(int fd, void* buffer, nuint count);

    internal const int F_GETFL = 3;
    internal const int F_SETFL = 4;
    internal const int O_NONBLOCK = 0x800;

    [LibraryImport(Name, SetLastError = true)]
    internal static partial int fcntl(SafeFdHandle fd, int cmd, int arg);

    /// <summary>
    /// A close-on-exec duplicate of <paramref name="handle"/> (the same open socket, never 0-2), or an invalid
    /// handle with <paramref name="errno"/>; the original stays the caller's.
    /// </summary>
    internal static SafeFdHandle Duplicate(SafeHandle handle, out int errno)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            var fd = fcntl_raw((int)handle.DangerousGetHandle(), F_DUPFD_CLOEXEC, 3);
            errno = fd < 0 ? LastErrno : 0;
            return new SafeFdHandle(fd);
        }
        finally
        {
            handle.DangerousRelease();
        }
    }
}
