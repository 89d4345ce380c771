using System.Runtime.InteropServices;

namespace Transport.UnixNative.Client.Tests.Infrastructure;

/// <summary>Who this process is, and what it holds open (stale socket files: <see cref="NativeSocket"/>).</summary>
internal static unsafe partial class Native
{
    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc")]
    public static partial uint getegid();

    /// <summary>This process's open file descriptors and what each one is (socket:[inode], pipe:[…], a path).</summary>
    public static Dictionary<string, string> OpenFileDescriptors()
    {
        var result = new Dictionary<string, string>();
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                result[Path.GetFileName(fd)] = new FileInfo(fd).LinkTarget ?? "?";
            }
            catch (IOException)
            {
                // Closed while we looked (e.g. the directory handle of the enumeration itself).
            }
        }
        return result;
    }
}
