// Compiled into the server and the client (src/Shared, one namespace): the sendmsg/recvmsg structs,
// checked against gcc in test/Transport.UnixNative.Tests/InteropLayout/InteropLayoutTests.cs.
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

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
