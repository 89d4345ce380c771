using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Client.Tests.Infrastructure;

/// <summary>Raw libc calls for situations the runtime tidies away (it unlinks a socket file when its Socket is disposed).</summary>
internal static unsafe partial class Native
{
    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, byte* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc")]
    public static partial uint getegid();

    /// <summary>Leaves a socket file with nobody behind it, as a crashed server does.</summary>
    public static void CreateStaleSocketFile(string path)
    {
        var fd = socket(1, 1, 0);
        Assert.True(fd >= 0, $"socket: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var address = new UnixDomainSocketEndPoint(path).Serialize();
            fixed (byte* p = address.Buffer.Span)
            {
                Assert.True(bind(fd, p, address.Size) == 0, $"bind {path}: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        finally
        {
            close(fd);
        }
    }

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
