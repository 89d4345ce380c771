using System.Net.Sockets;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Core.Diagnostics;

/// <summary>Turns an errno into an exception whose message says what failed and why.</summary>
internal static class NativeError
{
    public static IOException Exception(string call, int errno)
        => new($"{call} failed: {Libc.Describe(errno)}", Libc.SocketException(errno));

    public static IOException Exception(string what, string subject, int errno)
        => new($"{what} '{subject}': {Libc.Describe(errno)}.", Libc.SocketException(errno));
}
