// Compiled into the server and the client (src/Shared, one namespace).
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>recvmsg(2) and sendmsg(2) with scatter/gather vectors (msghdr and iovec: MessageHeader.cs).</summary>
internal static unsafe partial class Message
{
    internal const int MSG_TRUNC = 0x20;
    internal const int MSG_DONTWAIT = 0x40;
    internal const int MSG_NOSIGNAL = 0x4000;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;

    // Raw fds: the server calls them on the event loop that alone closes the descriptor; SafeHandle
    // callers hold a reference across the call (Message.Descriptors.cs).
    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial nint recvmsg(int fd, MessageHeader* message, int flags);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial nint sendmsg(int fd, MessageHeader* message, int flags);
}
