using Transport.UnixNative.Bench.Native;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Bench.Micro;

/// <summary>Two connected unix stream sockets (socketpair(2)), owned as the transport owns descriptors.</summary>
internal sealed class NativeSocketPair : IDisposable
{
    public NativeSocketPair(bool nonBlocking)
    {
        var type = Interop.Socket.SOCK_STREAM | Interop.Socket.SOCK_CLOEXEC | (nonBlocking ? Interop.Socket.SOCK_NONBLOCK : 0);
        var (first, second) = BenchNative.SocketPair(type);
        First = new SafeFdHandle(first);
        Second = new SafeFdHandle(second);
    }

    public SafeFdHandle First { get; }

    public SafeFdHandle Second { get; }

    public void Dispose()
    {
        First.Dispose();
        Second.Dispose();
    }
}
