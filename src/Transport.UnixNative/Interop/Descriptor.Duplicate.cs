using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>fcntl(F_DUPFD_CLOEXEC): our own copy of a descriptor someone else owns.</summary>
internal static partial class Libc
{
    /// <summary>A close-on-exec duplicate of <paramref name="handle"/> (invalid with errno on failure); the original stays the caller's.</summary>
    internal static SafeFdHandle Duplicate(SafeHandle handle, out int errno)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            var fd = fcntl_raw((int)handle.DangerousGetHandle(), F_DUPFD_CLOEXEC, 0);
            errno = fd < 0 ? LastErrno : 0;
            return new SafeFdHandle(fd);
        }
        finally
        {
            handle.DangerousRelease();
        }
    }
}
