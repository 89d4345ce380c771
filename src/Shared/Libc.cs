// Compiled into the server and the client (src/Shared, one namespace): the C library calls both need.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

// Interop buffers are always written before they are read; skip zeroing stackallocs.
[module: SkipLocalsInit]

namespace Transport.UnixNative.Interop;

/// <summary>The C library (errno values and their names: Errno.cs).</summary>
internal static partial class Libc
{
    // The runtime maps "libc" to the platform's C library (libc.so.6 on glibc).
    internal const string Name = "libc";

    internal const int F_GETFD = 1;
    internal const int F_SETFD = 2;
    internal const int FD_CLOEXEC = 1;
    internal const int F_DUPFD_CLOEXEC = 1030;

    [LibraryImport(Name, SetLastError = true)]
    internal static partial int close(int fd);

    /// <summary>For descriptors held by a SafeHandle of any kind, or with no owner yet (socket activation).</summary>
    [LibraryImport(Name, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int fcntl_raw(int fd, int cmd, int arg);

    /// <summary>Sets or clears FD_CLOEXEC; 0 or errno.</summary>
    internal static int SetCloseOnExec(SafeHandle handle, bool closeOnExec)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            var fd = (int)handle.DangerousGetHandle();
            var flags = fcntl_raw(fd, F_GETFD, 0);
            if (flags < 0 || fcntl_raw(fd, F_SETFD, closeOnExec ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC) < 0)
            {
                return LastErrno;
            }
            return 0;
        }
        finally
        {
            handle.DangerousRelease();
        }
    }
}
