using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>statx(2), unlink(2), chmod(2), lchown(2).</summary>
internal static unsafe partial class FileSystem
{
    internal const int AT_FDCWD = -100;
    internal const int AT_SYMLINK_NOFOLLOW = 0x100;
    internal const uint STATX_TYPE = 0x1;
    internal const uint STATX_MODE = 0x2;
    internal const uint STATX_UID = 0x8;
    internal const uint STATX_GID = 0x10;
    internal const uint STATX_INO = 0x100;

    internal const ushort S_IFMT = 0xF000;
    internal const ushort S_IFSOCK = 0xC000;
    internal const ushort S_IFDIR = 0x4000;

    // statx has one layout on every architecture, unlike struct stat.
    [LibraryImport(Libc.Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int statx(int dirfd, string path, int flags, uint mask, StatX* buffer);

    [LibraryImport(Libc.Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int unlink(string path);

    [LibraryImport(Libc.Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int chmod(string path, uint mode);

    [LibraryImport(Libc.Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int lchown(string path, uint owner, uint group);

    /// <summary>lstat-like: type, mode, owner and identity of <paramref name="path"/> without following a link; errno on failure.</summary>
    internal static int TryGetStatus(string path, out StatX status)
    {
        StatX s;
        var rc = statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_INO, &s);
        status = s;
        return rc == 0 ? 0 : Libc.LastErrno;
    }
}

/// <summary><c>struct statx</c>: 256 bytes, same layout on every architecture.</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct StatX
{
    [FieldOffset(0)] public uint Mask;
    [FieldOffset(20)] public uint Uid;
    [FieldOffset(24)] public uint Gid;
    [FieldOffset(28)] public ushort Mode;
    [FieldOffset(32)] public ulong Inode;
    [FieldOffset(136)] public uint DevMajor;
    [FieldOffset(140)] public uint DevMinor;

    public readonly bool IsSocket => (Mode & FileSystem.S_IFMT) == FileSystem.S_IFSOCK;
    public readonly bool IsDirectory => (Mode & FileSystem.S_IFMT) == FileSystem.S_IFDIR;
}
