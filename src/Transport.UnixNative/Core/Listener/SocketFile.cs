using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Core.Listener;

/// <summary>
/// The rules for a socket file on disk: replace a stale one, never touch a live one or a
/// file that is not a socket, and on shutdown remove only the inode we created.
/// </summary>
internal static class SocketFile
{
    public enum Preparation
    {
        PathWasFree,
        RemovedStaleSocket,
    }

    /// <summary>
    /// Makes <paramref name="address"/>'s path ready for bind, or throws an error naming the path and the reason.
    /// On success the caller holds <paramref name="fileLock"/> (see <see cref="SocketFileLock"/>) until the listener is gone.
    /// </summary>
    public static Preparation PrepareForBind(UnixSocketAddress address, out SocketFileLock fileLock)
    {
        CheckDirectory(address.Name);
        try
        {
            fileLock = SocketFileLock.Acquire(address.Name);
        }
        catch (AddressInUseException) when (Probe(address) == Libc.EPROTOTYPE)
        {
            throw OtherSocketType(address.Name);
        }
        try
        {
            return PreparePath(address);
        }
        catch
        {
            fileLock.Dispose();
            throw;
        }
    }

    private static void CheckDirectory(string path)
    {
        var directory = Path.GetDirectoryName(path) ?? "/";
        var errno = FileSystem.TryGetStatus(directory, out var dirStatus);
        if (errno != 0)
        {
            throw errno == Libc.ENOENT
                ? new DirectoryNotFoundException($"Cannot listen on unix socket '{path}': directory '{directory}' does not exist ({Libc.Describe(errno)}).")
                : NativeError.Exception("Cannot listen on unix socket", path, errno);
        }
        if (!dirStatus.IsDirectory)
        {
            throw new IOException($"Cannot listen on unix socket '{path}': '{directory}' is not a directory ({Libc.Describe(Libc.ENOTDIR)}).");
        }
    }

    private static Preparation PreparePath(UnixSocketAddress address)
    {
        var path = address.Name;
        var errno = FileSystem.TryGetStatus(path, out var status);
        if (errno == Libc.ENOENT)
        {
            return Preparation.PathWasFree;
        }
        if (errno != 0)
        {
            throw NativeError.Exception("Cannot listen on unix socket", path, errno);
        }
        if (!status.IsSocket)
        {
            throw new IOException(
                $"Cannot listen on unix socket '{path}': the path exists and is {DescribeType(status)}, not a socket. It was left untouched; remove it or choose another path.");
        }

        // A socket file: is anybody accepting on it? Connecting is the only reliable question.
        errno = Probe(address);
        switch (errno)
        {
            case Libc.ECONNREFUSED:
                // Nobody listens: a leftover of a process that died. Safe to replace.
                if (FileSystem.unlink(path) != 0 && Libc.LastErrno is var unlinkErrno && unlinkErrno != Libc.ENOENT)
                {
                    throw NativeError.Exception("Cannot remove stale unix socket file", path, unlinkErrno);
                }
                return Preparation.RemovedStaleSocket;
            case 0:
            case Libc.EAGAIN:       // a live listener whose backlog is full
            case Libc.EINTR:
                throw new AddressInUseException($"Unix socket '{path}' is in use: a server is accepting connections on it.");
            case Libc.EPROTOTYPE:   // a live listener of the other socket type
                throw OtherSocketType(path);
            default:
                throw NativeError.Exception("Cannot tell whether unix socket is in use", path, errno);
        }
    }

    private static AddressInUseException OtherSocketType(string path)
        => new($"Unix socket '{path}' is in use by a server of another socket type ({Libc.Describe(Libc.EPROTOTYPE)}).");

    /// <summary>Connects to the path with the address's socket type: 0 when something accepts, else the errno.</summary>
    private static unsafe int Probe(UnixSocketAddress address)
    {
        using var probe = Interop.Socket.Create(Interop.Socket.AF_UNIX, address.SocketType);
        if (probe.IsInvalid)
        {
            throw NativeError.Exception("socket", Libc.LastErrno);
        }
        Span<byte> sockaddr = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(false, address.Name, sockaddr);
        int rc;
        fixed (byte* p = sockaddr)
        {
            rc = Interop.Socket.connect(probe, p, length);
        }
        return rc == 0 ? 0 : Libc.LastErrno;
    }

    /// <summary>The identity of the socket file just bound, so shutdown removes only our own file.</summary>
    public static FileIdentity? Identify(string path)
        => FileSystem.TryGetStatus(path, out var s) == 0 ? new FileIdentity(s.DevMajor, s.DevMinor, s.Inode) : null;

    /// <summary>Removes <paramref name="path"/> only if it is still the socket we created.</summary>
    public static bool DeleteIfOwned(string path, FileIdentity identity)
    {
        if (FileSystem.TryGetStatus(path, out var s) != 0 || !s.IsSocket
            || new FileIdentity(s.DevMajor, s.DevMinor, s.Inode) != identity)
        {
            return false;
        }
        return FileSystem.unlink(path) == 0;
    }

    private static string DescribeType(StatX status) => (status.Mode & FileSystem.S_IFMT) switch
    {
        0x8000 => "a regular file",
        FileSystem.S_IFDIR => "a directory",
        0xA000 => "a symbolic link",
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x6000 => "a block device",
        _ => "not a socket",
    };

    public readonly record struct FileIdentity(uint DevMajor, uint DevMinor, ulong Inode);
}
