using System.Net.Sockets;
using Grpc.Net.Client;
using Transport.UnixNative.Client;

namespace GrpcOverUds;

/// <summary>A gRPC channel to a unix socket, with the HTTP/2 settings long-lived local channels need.</summary>
public static class GrpcUnixChannel
{
    /// <summary>A channel to <paramref name="address"/> (an absolute path or <c>@name</c>).</summary>
    public static GrpcChannel Create(string address)
    {
        var sockets = new SocketsHttpHandler
        {
            // Pings keep an idle connection known-alive and find a dead server without waiting for a call.
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            // One HTTP/2 connection carries at most the server's stream limit (Kestrel: 100) at once;
            // more calls open another connection instead of queueing.
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        };
        var handler = new UnixSocketHttpHandler(new UnixSocketClientOptions { Address = address, SocketType = SocketType.Stream, Http2PriorKnowledge = true }, sockets);
        // The host name is only the :authority header; every connection goes to the socket.
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }
}
