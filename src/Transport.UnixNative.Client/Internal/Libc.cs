using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

[module: SkipLocalsInit]

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// The few C library calls the client needs. Connections themselves go through System.Net.Sockets;
/// these only recover the exact errno when the runtime's SocketError mapping loses it
/// (it reports ENOENT as AddressNotAvailable, and ENOTDIR or ELOOP as "Unknown socket error").
/// </summary>
internal static unsafe partial class Libc
{
    private const string Name = "libc";

    internal const int AF_UNIX = 1;
    internal const int SOCK_NONBLOCK = 0x800;
    internal const int SOCK_CLOEXEC = 0x80000;

    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int EACCES = 13;
    internal const int ENOTDIR = 20;
    internal const int EINVAL = 22;
    internal const int EMFILE = 24;
    internal const int ENAMETOOLONG = 36;
    internal const int ELOOP = 40;
    internal const int ENOTSOCK = 88;
    internal const int EPROTOTYPE = 91;
    internal const int ECONNRESET = 104;
    internal const int ETIMEDOUT = 110;
    internal const int ECONNREFUSED = 111;

    [LibraryImport(Name, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Name, EntryPoint = "connect", SetLastError = true)]
    internal static partial int Connect(int fd, byte* address, int addressLength);

    [LibraryImport(Name, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Name, EntryPoint = "geteuid")]
    internal static partial uint GetEffectiveUserId();

    /// <summary>"ECONNREFUSED (Connection refused)": the name people search for, then the text.</summary>
    internal static string Describe(int errno) => $"{ErrnoName(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})";

    internal static string ErrnoName(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EINTR => "EINTR",
        EAGAIN => "EAGAIN",
        EACCES => "EACCES",
        ENOTDIR => "ENOTDIR",
        EINVAL => "EINVAL",
        EMFILE => "EMFILE",
        ENAMETOOLONG => "ENAMETOOLONG",
        ELOOP => "ELOOP",
        ENOTSOCK => "ENOTSOCK",
        EPROTOTYPE => "EPROTOTYPE",
        ECONNRESET => "ECONNRESET",
        ETIMEDOUT => "ETIMEDOUT",
        ECONNREFUSED => "ECONNREFUSED",
        _ => $"errno {errno}",
    };
}
