using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Core.Listener;

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
/// leaves a harmless file behind, which the next start reuses. A lock file of another uid is never
/// used (its owner could hold it to keep us from starting): it is removed and made anew, or, where
/// this process may not remove it, startup fails naming the file and its owner. A clean shutdown removes it; that is
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
        var ownUid = Users.geteuid();
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var fd = FileLock.OpenForLock(path, OwnerReadWrite);
            if (fd.IsInvalid)
            {
                var errno = Libc.LastErrno;
                // Another user's file we may not open (mode 0600, or fs.protected_regular in a sticky directory).
                if (errno is Libc.EACCES or Libc.EPERM && FileSystem.TryGetStatus(path, out var foreign) == 0
                    && (foreign.Mode & FileSystem.S_IFMT) == 0x8000 && foreign.Uid != ownUid)
                {
                    ReplaceForeign(socketPath, path, foreign, ownUid);
                    continue;
                }
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
                if (status.Uid != ownUid)
                {
                    // Never trusted: its owner could hold an flock on it to keep us from starting, or take it later.
                    fd.Dispose();
                    ReplaceForeign(socketPath, path, status, ownUid);
                    continue;
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

    /// <summary>
    /// Removes another user's lock file so the next attempt creates our own (each attempt checks the owner
    /// of what it opened again, so a file swapped in meanwhile is never trusted either); or fails naming it.
    /// </summary>
    private static void ReplaceForeign(string socketPath, string path, StatX seen, uint ownUid)
    {
        // Only the inode we judged: unlink(2) takes a name, so look again right before it.
        if (FileSystem.TryGetStatus(path, out var now) != 0
            || (now.DevMajor, now.DevMinor, now.Inode) != (seen.DevMajor, seen.DevMinor, seen.Inode))
        {
            return; // gone or replaced already: the next attempt looks at what is there now
        }
        if (FileSystem.unlink(path) == 0 || Libc.LastErrno == Libc.ENOENT)
        {
            return;
        }
        var errno = Libc.LastErrno;
        var owner = Users.TryGetUserName(seen.Uid, out var name) == 0 && name is not null ? $"uid {seen.Uid} ({name})" : $"uid {seen.Uid}";
        throw new IOException(
            $"Cannot listen on unix socket '{socketPath}': its lock file '{path}' belongs to {owner}, not to this process's uid {ownUid}, " +
            $"so it is not trusted, and it cannot be replaced ({Libc.Describe(errno)}). Nothing else was checked: no server is known to be listening. " +
            "Have its owner or root remove it, or choose a socket path in a directory other users cannot write.");
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
