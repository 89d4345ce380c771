using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>recvmsg(2) and sendmsg(2) with scatter/gather vectors.</summary>
internal static unsafe partial class Message
{
    internal const int MSG_PEEK = 0x2;
    internal const int MSG_TRUNC = 0x20;
    internal const int MSG_DONTWAIT = 0x40;
    internal const int MSG_EOR = 0x80;
    internal const int MSG_NOSIGNAL = 0x4000;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;

    // Raw fds: called on the event loop that alone closes the descriptor, so it cannot be closed mid-call.
    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial nint recvmsg(int fd, MessageHeader* message, int flags);

    [LibraryImport(Libc.Name, SetLastError = true)]
    internal static partial nint sendmsg(int fd, MessageHeader* message, int flags);
}

/// <summary><c>struct iovec</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IOVector
{
    public void* Base;
    public nuint Count;
}

/// <summary><c>struct msghdr</c> (LP64 layout: 56 bytes, natural alignment).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MessageHeader
{
    public void* Name;
    public uint NameLength;
    public IOVector* IOVectors;
    public nuint IOVectorCount;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}
