using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>open(2) with O_PATH and fchownat(2): change a file through a descriptor pinned to one inode.</summary>
internal static unsafe partial class FileSystem
{
    internal const int AT_EMPTY_PATH = 0x1000;
    internal const int O_PATH = 0x200000;       // 010000000, same on x86-64 and arm64
    internal const int O_CLOEXEC = 0x80000;     // 02000000, same on x86-64 and arm64

    /// <summary>O_NOFOLLOW differs between architectures: 0400000 on x86-64, 0100000 on arm64.</summary>
    internal static readonly int O_NOFOLLOW = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x8000 : 0x20000;

    [LibraryImport(Libc.Name, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open_raw(string path, int flags);

    [LibraryImport(Libc.Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int fchownat(SafeFdHandle dirfd, string path, uint owner, uint group, int flags);

    /// <summary>An O_PATH descriptor for <paramref name="path"/> itself (a symbolic link is not followed), or an invalid handle with errno set.</summary>
    internal static SafeFdHandle OpenPath(string path) => new(open_raw(path, O_PATH | O_NOFOLLOW | O_CLOEXEC));

    /// <summary>Type, mode, owner and identity of the file <paramref name="fd"/> refers to; errno on failure.</summary>
    internal static int TryGetStatus(SafeFdHandle fd, out StatX status)
    {
        StatX s;
        int rc;
        var added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            rc = statx(fd.Fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_INO, &s);
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
        status = s;
        return rc == 0 ? 0 : Libc.LastErrno;
    }
}
