namespace Transport.UnixNative.Interop;

/// <summary>socketpair(2) for the event loop: owned, non-blocking ends (the call itself: src/Shared/Socket.cs).</summary>
internal static partial class Socket
{
    /// <summary>A connected pair, both ends non-blocking and close-on-exec; 0 or errno.</summary>
    internal static int CreatePair(int type, out SafeFdHandle first, out SafeFdHandle second)
    {
        var errno = CreateRawPair(type | SOCK_NONBLOCK, out int firstFd, out int secondFd);
        first = new SafeFdHandle(firstFd);
        second = new SafeFdHandle(secondFd);
        return errno;
    }
}
