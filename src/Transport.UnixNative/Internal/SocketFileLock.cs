using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Internal;

/// <summary>
/// An exclusive flock on <c>path + ".lock"</c>, held from before the stale-socket probe until the
/// listener is gone. Without it two instances starting at once could both see a stale (or no) socket,
/// and the second would unlink the first's fresh, live one and bind its own: two servers, one path,
/// the first unreachable. With it, probe-unlink-bind-listen runs for one instance at a time; the
/// other fails at once with <see cref="AddressInUseException"/>.
/// </summary>
/// <remarks>
/// A lock rather than bind-to-a-temporary-name-and-rename: rename overwrites whatever is at the path,
/// so it needs a lock anyway to be safe. The kernel drops the lock when the process dies, so a crash
/// leaves a harmless file behind, which the next start reuses. A clean shutdown removes it; that is
/// safe because whoever locks checks afterwards that the path still names the inode it locked, and
/// starts over if the file was removed meanwhile.
/// </remarks>
internal sealed class SocketFileLock : IDisposable
{
    private const uint OwnerReadWrite = 0b110_000_000; // 0600: another user cannot hold our lock to stop us starting
    private const int MaxAttempts = 8;

    private readonly SafeFdHandle _fd;
    private readonly SocketFile.FileIdentity _identity;

    private SocketFileLock(string path, SafeFdHandle fd, SocketFile.FileIdentity identity)
    {
        Path = path;
        _fd = fd;
        _identity = identity;
    }

    public string Path { get; }

    public static string PathFor(string socketPath) => socketPath + ".lock";

    /// <summary>Takes the lock for <paramref name="socketPath"/>, or throws: in use, or an error naming the lock file and the errno.</summary>
    public static SocketFileLock Acquire(string socketPath)
    {
        var path = PathFor(socketPath);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var fd = FileLock.OpenForLock(path, OwnerReadWrite);
            if (fd.IsInvalid)
            {
                var errno = Libc.LastErrno;
                throw errno == Libc.ELOOP
                    ? new IOException($"Cannot listen on unix socket '{socketPath}': its lock file '{path}' is a symbolic link ({Libc.Describe(errno)}). It was left untouched.")
                    : NativeError.Exception($"Cannot listen on unix socket '{socketPath}': cannot open its lock file", path, errno);
            }
            try
            {
                if (FileLock.TryGetStatus(fd, out var status) is var statErrno && statErrno != 0)
                {
                    throw NativeError.Exception("Cannot inspect lock file", path, statErrno);
                }
                if ((status.Mode & FileSystem.S_IFMT) != 0x8000)
                {
                    throw new IOException($"Cannot listen on unix socket '{socketPath}': its lock file '{path}' exists and is not a regular file. It was left untouched.");
                }
                int rc;
                do
                {
                    rc = FileLock.flock(fd, FileLock.LOCK_EX | FileLock.LOCK_NB);
                }
                while (rc != 0 && Libc.LastErrno == Libc.EINTR);
                if (rc != 0)
                {
                    var errno = Libc.LastErrno;
                    throw errno == Libc.EAGAIN
                        ? new AddressInUseException($"Unix socket '{socketPath}' is in use: another server holds its lock file '{path}' (it is starting or running on this path).")
                        : NativeError.Exception("Cannot lock", path, errno);
                }
                var identity = new SocketFile.FileIdentity(status.DevMajor, status.DevMinor, status.Inode);
                // Locked an inode that a finishing owner has just removed? Then it locks nothing: start over.
                if (FileSystem.TryGetStatus(path, out var now) == 0 && new SocketFile.FileIdentity(now.DevMajor, now.DevMinor, now.Inode) == identity)
                {
                    return new SocketFileLock(path, fd, identity);
                }
            }
            catch
            {
                fd.Dispose();
                throw;
            }
            fd.Dispose();
        }
        throw new IOException($"Cannot listen on unix socket '{socketPath}': its lock file '{path}' kept being replaced while locking it.");
    }

    /// <summary>Removes the lock file if it is still ours (while still holding the lock), then releases the lock.</summary>
    public void Dispose()
    {
        if (_fd.IsClosed)
        {
            return;
        }
        if (FileSystem.TryGetStatus(Path, out var s) == 0 && new SocketFile.FileIdentity(s.DevMajor, s.DevMinor, s.Inode) == _identity)
        {
            FileSystem.unlink(Path);
        }
        _fd.Dispose();
    }
}
