using System.Net;
using System.Net.Sockets;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Core.Loop;

namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>
/// Connections that are never started, on a loop that never runs: for tests of what a connection
/// answers (features, credentials), not of its I/O. Disposing closes their sockets and the loop.
/// </summary>
internal sealed class DetachedConnections : IDisposable
{
    private static readonly EndPoint s_local = new UnixDomainSocketEndPoint("/detached/local");
    private static readonly EndPoint s_remote = new UnixDomainSocketEndPoint("/detached/remote");

    private readonly EventLoop _loop = new(0, new UnixNativeTransportOptions(), new Core.Loop.EventLoopTests.TrackingPool());
    private readonly List<SafeFdHandle> _handles = [];

    /// <summary>A stream connection over one end of a new socket pair (of an endpoint that receives descriptors unless told); <paramref name="peer"/> is the other end.</summary>
    public UnixConnection Create(out SafeFdHandle peer, bool receiveDescriptors = true)
    {
        Assert.Equal(0, Interop.Socket.CreatePair(Interop.Socket.SOCK_STREAM, out var mine, out peer));
        _handles.Add(mine);
        _handles.Add(peer);
        return new UnixConnection(mine, _loop, s_local, s_remote, isPacket: false, receiveDescriptors: receiveDescriptors);
    }

    /// <summary>A stream connection with no socket behind it: whatever would ask the kernel fails.</summary>
    public UnixConnection CreateWithoutSocket()
        => new(new SafeFdHandle(), _loop, s_local, s_remote, isPacket: false);

    public void Dispose()
    {
        foreach (var handle in _handles)
        {
            handle.Dispose();
        }
        _loop.Dispose();
    }
}
