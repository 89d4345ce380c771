using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Transport.UnixNative.Interop;

/// <summary>sendfile(2), posix_fadvise(2), cachestat(2) and statx(2) of the file: a file range into a stream socket.</summary>
internal static unsafe partial class SendFile
{
    internal const int POSIX_FADV_SEQUENTIAL = 2;
    internal const int POSIX_FADV_WILLNEED = 3;
    internal const int AT_EMPTY_PATH = 0x1000;
    internal const ushort S_IFREG = 0x8000;

    // cachestat has no glibc wrapper yet; the number is the same in the generic and x86-64 tables.
    private const long SYS_cachestat = 451;

    [LibraryImport(Libc.Name, EntryPoint = "sendfile", SetLastError = true)]
    private static partial nint sendfile_raw(int outFd, int inFd, long* offset, nuint count);

    /// <summary>posix_fadvise returns the error number itself, never -1 with errno.</summary>
    [LibraryImport(Libc.Name, EntryPoint = "posix_fadvise")]
    private static partial int posix_fadvise_raw(int fd, long offset, long length, int advice);

    [LibraryImport(Libc.Name, EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall_cachestat(long number, int fd, CacheStatRange* range, CacheStat* stat, uint flags);

    /// <summary>Whether <paramref name="file"/> is a regular file: a device or FIFO has no length sendfile could be checked against.</summary>
    internal static bool IsRegularFile(SafeFileHandle file)
    {
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            StatX status;
            return FileSystem.statx((int)file.DangerousGetHandle(), "", AT_EMPTY_PATH, FileSystem.STATX_TYPE, &status) == 0
                && (status.Mode & FileSystem.S_IFMT) == S_IFREG;
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Sends up to <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/>
    /// (advanced by what was sent) into <paramref name="socketFd"/>. Bytes sent, 0 at the end of the
    /// file, or -1 with errno (EINTR already retried). Holds a reference on the file for the call.
    /// </summary>
    internal static nint Send(int socketFd, SafeFileHandle file, ref long offset, long count, out int errno)
    {
        errno = 0;
        if (!TryAddRef(file))
        {
            errno = Libc.EBADF;
            return -1;
        }
        try
        {
            var fileFd = (int)file.DangerousGetHandle();
            nint n;
            fixed (long* p = &offset)
            {
                do
                {
                    n = sendfile_raw(socketFd, fileFd, p, (nuint)count);
                }
                while (n < 0 && (errno = Libc.LastErrno) == Libc.EINTR);
            }
            return n;
        }
        finally
        {
            file.DangerousRelease();
        }
    }

    /// <summary>Advice on how the range will be read; 0 or the error number. Advice is best effort.</summary>
    internal static int Advise(SafeFileHandle file, long offset, long length, int advice)
    {
        if (!TryAddRef(file))
        {
            return Libc.EBADF;
        }
        try
        {
            return posix_fadvise_raw((int)file.DangerousGetHandle(), offset, length, advice);
        }
        finally
        {
            file.DangerousRelease();
        }
    }

    /// <summary>
    /// Pages of the range held in the page cache (cachestat, Linux 6.5+), or -1 with errno (ENOSYS
    /// on older kernels, EPERM under a seccomp filter that does not know the call).
    /// </summary>
    internal static long CachedPages(SafeFileHandle file, long offset, long length, out int errno)
    {
        errno = 0;
        if (!TryAddRef(file))
        {
            errno = Libc.EBADF;
            return -1;
        }
        try
        {
            var range = new CacheStatRange { Offset = (ulong)offset, Length = (ulong)length };
            CacheStat stat;
            if (syscall_cachestat(SYS_cachestat, (int)file.DangerousGetHandle(), &range, &stat, 0) != 0)
            {
                errno = Libc.LastErrno;
                return -1;
            }
            return (long)stat.Cached;
        }
        finally
        {
            file.DangerousRelease();
        }
    }

    /// <summary>A reference on <paramref name="file"/> for one call; false once it is closed (the call then reports EBADF).</summary>
    private static bool TryAddRef(SafeFileHandle file)
    {
        try
        {
            var added = false;
            file.DangerousAddRef(ref added);
            return added;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }
}

/// <summary><c>struct cachestat_range</c> (linux/mman.h): two u64, the same on every architecture.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CacheStatRange
{
    public ulong Offset;
    public ulong Length;
}

/// <summary><c>struct cachestat</c> (linux/mman.h): five u64 page counts.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CacheStat
{
    public ulong Cached;
    public ulong Dirty;
    public ulong Writeback;
    public ulong Evicted;
    public ulong RecentlyEvicted;
}
