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

    [LibraryImport(Name, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Name, EntryPoint = "connect", SetLastError = true)]
    internal static partial int Connect(int fd, byte* address, int addressLength);

    [LibraryImport(Name, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Name, EntryPoint = "geteuid")]
    internal static partial uint GetEffectiveUserId();
}
