using System.Runtime.InteropServices;

namespace Transport.UnixNative.Tests.Connected;

internal static partial class Native
{
    [LibraryImport("libc", EntryPoint = "getuid")]
    public static partial uint GetUid();

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, int arg);

    /// <summary>FD_CLOEXEC from fcntl(F_GETFD).</summary>
    public static bool IsCloseOnExec(SafeHandle handle)
    {
        var flags = Fcntl((int)handle.DangerousGetHandle(), 1, 0);
        Assert.True(flags >= 0, $"fcntl failed: {Marshal.GetLastPInvokeError()}");
        return (flags & 1) != 0;
    }
}
