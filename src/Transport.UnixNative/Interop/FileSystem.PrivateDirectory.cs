using System.Runtime.InteropServices;
using System.Text;

namespace Transport.UnixNative.Interop;

/// <summary>mkdtemp(3), fchmodat(2), linkat(2), unlinkat(2): make a file in a directory only we can enter, then give it its name.</summary>
internal static unsafe partial class FileSystem
{
    internal const int AT_REMOVEDIR = 0x200;

    /// <summary>O_DIRECTORY differs between architectures: 0200000 on x86-64, 040000 on arm64.</summary>
    internal static readonly int O_DIRECTORY = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x4000 : 0x10000;

    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial byte* mkdtemp(byte* template);

    [LibraryImport(Libc.Name, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open_directory(string path, int flags);

    [LibraryImport(Libc.Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int fchmodat(SafeFdHandle dirfd, string path, uint mode, int flags);

    [LibraryImport(Libc.Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int linkat(SafeFdHandle olddirfd, string oldpath, int newdirfd, string newpath, int flags);

    [LibraryImport(Libc.Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int unlinkat(int dirfd, string path, int flags);

    [LibraryImport(Libc.Name, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int unlinkat(SafeFdHandle dirfd, string path, int flags);

    /// <summary>
    /// Creates a fresh directory (mode 0700) named <paramref name="prefix"/> plus six random characters, and
    /// opens it without following links. Returns its path, or null with errno set.
    /// </summary>
    internal static string? CreatePrivateDirectory(string prefix, out SafeFdHandle directory)
    {
        directory = new SafeFdHandle(-1);
        var template = Encoding.UTF8.GetBytes(prefix + "XXXXXX\0");
        string path;
        fixed (byte* p = template)
        {
            if (mkdtemp(p) == null)
            {
                return null;
            }
            path = Encoding.UTF8.GetString(template, 0, template.Length - 1);
        }
        directory = new SafeFdHandle(open_directory(path, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (directory.IsInvalid)
        {
            var errno = Libc.LastErrno;
            _ = unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
            Marshal.SetLastPInvokeError(errno);
            return null;
        }
        return path;
    }

    /// <summary>Status of <paramref name="name"/> inside <paramref name="directory"/>, not following a link; errno on failure.</summary>
    internal static int TryGetStatus(SafeFdHandle directory, string name, out StatX status)
    {
        StatX s;
        var rc = statx(directory.Fd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_INO, &s);
        status = s;
        return rc == 0 ? 0 : Libc.LastErrno;
    }
}
