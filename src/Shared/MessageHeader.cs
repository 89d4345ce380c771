// Compiled into both assemblies (the server's Interop, the client's Internal): the sendmsg/recvmsg structs,
// checked against gcc in test/Transport.UnixNative.Tests/Unit/InteropLayoutTests.cs.
using System.Runtime.InteropServices;

#if UNIXNATIVE_CLIENT
namespace Transport.UnixNative.Client.Internal;
#else
namespace Transport.UnixNative.Interop;
#endif

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
