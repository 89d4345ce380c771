// Compiled into the server and the client (src/Shared, one namespace): unix socket constants, socketpair, ucred.
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>Unix socket constants and socketpair(2): two connected unix sockets with no name.</summary>
internal static unsafe partial class Socket
{
    internal const int AF_UNIX = 1;
    internal const int SOCK_STREAM = 1;
    internal const int SOCK_SEQPACKET = 5;
    internal const int SOCK_NONBLOCK = 0x800;
    internal const int SOCK_CLOEXEC = 0x80000;

    internal const int SOL_SOCKET = 1;
    internal const int SO_PEERCRED = 17;

    /// <summary>
    /// The SOCK_SEQPACKET packets we send: small enough for a peer reading 64 KiB at a time (Python, socat)
    /// and for several to be in flight in the default send buffer.
    /// </summary>
    internal const int SeqpacketSendSize = 64 * 1024;

    [LibraryImport(Libc.Name, EntryPoint = "socketpair", SetLastError = true)]
    private static partial int socketpair_raw(int domain, int type, int protocol, int* fds);

    /// <summary>A connected pair of <paramref name="type"/> (SOCK_* flags allowed), both ends close-on-exec; 0 or errno.</summary>
    internal static int CreateRawPair(int type, out int first, out int second)
    {
        var fds = stackalloc int[2];
        if (socketpair_raw(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0)
        {
            first = second = -1;
            return Libc.LastErrno;
        }
        first = fds[0];
        second = fds[1];
        return 0;
    }
}

/// <summary>The peer process as the kernel recorded it at connect(2): <c>struct ucred</c> (SO_PEERCRED).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UCred
{
    public int Pid;
    public uint Uid;
    public uint Gid;
}
