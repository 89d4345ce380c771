using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Bench.Native;

// Only the benchmarks (which reference the transport) make socket pairs, through the shared interop.
internal static partial class BenchNative
{
    /// <summary>A connected pair of unix sockets of <paramref name="type"/> (SOCK_* flags allowed), close-on-exec.</summary>
    internal static (int First, int Second) SocketPair(int type)
    {
        var errno = Socket.CreateRawPair(type, out var first, out var second);
        if (errno != 0)
        {
            throw new IOException($"socketpair failed: {UnixNative.Interop.Libc.Describe(errno)}");
        }
        return (first, second);
    }
}
