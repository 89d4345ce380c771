using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>open(2), flock(2) and fstat through statx(2): an advisory lock file.</summary>
internal static unsafe partial class FileLock
{
    internal const int O_RDONLY = 0;
    internal const int O_CREAT = 0x40;
    internal const int O_NONBLOCK = 0x800;
    internal const int O_CLOEXEC = 0x80000;

    internal const int LOCK_EX = 2;
    internal const int LOCK_NB = 4;

    private const int AT_EMPTY_PATH = 0x1000;

    [LibraryImport(Libc.Name, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open_raw(string path, int flags, uint mode);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial int flock(SafeFdHandle fd, int operation);

    [LibraryImport(Libc.Name, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx_fd(SafeFdHandle fd, string path, int flags, uint mask, StatX* buffer);

    /// <summary>
    /// Opens (creating with <paramref name="mode"/>) <paramref name="path"/> for locking: read-only is enough
    /// for flock, never follows a symbolic link, and does not block on a FIFO. Invalid handle with errno set on failure.
    /// </summary>
    internal static SafeFdHandle OpenForLock(string path, uint mode)
    {
        int fd;
        do
        {
            fd = open_raw(path, O_RDONLY | O_CREAT | FileSystem.O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode); // O_NOFOLLOW differs on arm64
        }
        while (fd < 0 && Libc.LastErrno == Libc.EINTR);
        return new SafeFdHandle(fd);
    }

    /// <summary>Status of an open descriptor; errno on failure.</summary>
    internal static int TryGetStatus(SafeFdHandle fd, out StatX status)
    {
        StatX s;
        var rc = statx_fd(fd, string.Empty, AT_EMPTY_PATH, FileSystem.STATX_TYPE | FileSystem.STATX_MODE | FileSystem.STATX_UID | FileSystem.STATX_INO, &s);
        status = s;
        return rc == 0 ? 0 : Libc.LastErrno;
    }
}
