using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>recv(2) and send(2) tried once without blocking, for the client's inline connection stream (<c>InlineSocketStream</c>).</summary>
internal static unsafe partial class NonBlockingSocket
{
    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial nint send(int fd, byte* buffer, nuint length, int flags);

    /// <summary>Bytes read, 0 at end of stream, or -1 with the errno in <paramref name="errno"/>.</summary>
    internal static nint Receive(SafeHandle socket, Span<byte> buffer, out int errno)
    {
        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            fixed (byte* p = buffer)
            {
                var n = recv((int)socket.DangerousGetHandle(), p, (nuint)buffer.Length, Message.MSG_DONTWAIT);
                errno = n < 0 ? Libc.LastErrno : 0;
                return n;
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>Bytes sent (never SIGPIPE), or -1 with the errno in <paramref name="errno"/>.</summary>
    internal static nint Send(SafeHandle socket, ReadOnlySpan<byte> buffer, out int errno)
    {
        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            fixed (byte* p = buffer)
            {
                var n = send((int)socket.DangerousGetHandle(), p, (nuint)buffer.Length, Message.MSG_DONTWAIT | Message.MSG_NOSIGNAL);
                errno = n < 0 ? Libc.LastErrno : 0;
                return n;
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }
}
