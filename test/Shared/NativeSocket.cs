using System.Runtime.InteropServices;
using System.Text;

namespace Transport.UnixNative.Testing;

/// <summary>Test-local libc calls, independent of the transport's own interop, for states .NET's Socket will not leave behind.</summary>
internal static unsafe partial class NativeSocket
{
    private const int AF_UNIX = 1;
    private const int SOCK_STREAM = 1;
    private const int SOCK_SEQPACKET = 5;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, byte* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int listen(int fd, int backlog);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    /// <summary>Leaves a stale socket file at <paramref name="path"/>: bound, listened on, closed, never unlinked.</summary>
    public static void BindListenAndCloseWithoutUnlink(string path, bool seqpacket)
    {
        var fd = socket(AF_UNIX, seqpacket ? SOCK_SEQPACKET : SOCK_STREAM, 0);
        if (fd < 0)
        {
            throw new IOException($"socket failed: errno {Marshal.GetLastPInvokeError()}");
        }
        try
        {
            var address = new byte[110];
            address[0] = AF_UNIX;
            var length = 2 + Encoding.UTF8.GetBytes(path, address.AsSpan(2)) + 1;
            fixed (byte* p = address)
            {
                if (bind(fd, p, length) != 0 || listen(fd, 1) != 0)
                {
                    throw new IOException($"bind/listen '{path}' failed: errno {Marshal.GetLastPInvokeError()}");
                }
            }
        }
        finally
        {
            close(fd);
        }
    }
}
