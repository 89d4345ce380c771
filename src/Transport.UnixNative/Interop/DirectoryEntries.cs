using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>opendir(3)/readdir(3): counting a directory's entries without a stat per entry or an allocation.</summary>
internal static unsafe partial class DirectoryEntries
{
    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial nint opendir(byte* path);

    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial nint readdir(nint directory);

    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial int closedir(nint directory);

    /// <summary>
    /// The descriptors this process has open besides the one opendir itself uses, or -1 (errno set) when
    /// /proc/self/fd cannot be opened (no descriptor free, or no /proc).
    /// </summary>
    internal static int CountOpenDescriptors()
    {
        var directory = opendir((byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference("/proc/self/fd\0"u8)));
        if (directory == 0)
        {
            return -1;
        }
        var entries = 0;
        while (readdir(directory) != 0)
        {
            entries++;
        }
        closedir(directory);
        return entries - 3; // ".", ".." and the directory's own descriptor
    }
}
