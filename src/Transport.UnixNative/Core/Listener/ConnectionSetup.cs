using System.Net;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Loop;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Core.Listener;

/// <summary>
/// The one way a connected socket becomes a served connection, whether accepted, taken from an
/// inherited listener or handed over as one end of a socket pair: admission, peer credentials,
/// sendfile and metrics, then the start of its loops.
/// </summary>
internal static class ConnectionSetup
{
    public enum Outcome
    {
        Started,
        Refused,
        Failed,
    }

    /// <summary>
    /// Serves <paramref name="handle"/> (whose peer is at <paramref name="peerAddress"/>, empty for an unnamed one), or closes it: a refused peer (nothing read) or a failure to set it up
    /// (logged) ends this connection only, never the listener.
    /// </summary>
    public static UnixConnection? Start(SafeFdHandle handle, ReadOnlySpan<byte> peerAddress, ListenerSettings listener, out Outcome outcome)
    {
        try
        {
            if (!PeerCredentials.Admit(handle.Fd, listener.Access, listener.Logger, listener.EndPoint, out var peer, out var peerGroups))
            {
                handle.Dispose();
                listener.Metrics?.RefusedByAllowlist();
                outcome = Outcome.Refused;
                return null;
            }
            var remote = UnixConnectionListener.RemoteEndPointOf(peerAddress, listener.IsPacket);
            var connection = new UnixConnection(handle, listener.Loops.Next(), listener.ConnectionLocalEndPoint, remote, listener.IsPacket,
                listener.PreserveMessages, listener.ReceivesDescriptors);
            if (peer is { } credentials)
            {
                connection.SetPeerCredentials(credentials, peerGroups);
            }
            listener.Loops.AttachSendFile?.Invoke(connection);
            connection.Metrics = listener.Metrics;
            listener.Metrics?.ConnectionAccepted();
            connection.Start();
            outcome = Outcome.Started;
            return connection;
        }
        catch (Exception ex)
        {
            // Whatever one peer brings (an odd address, a failed getsockopt) ends that connection only:
            // an exception escaping AcceptAsync would stop Kestrel accepting on this endpoint for good.
            TransportLog.ConnectionSetupFailed(listener.Logger, listener.EndPoint.ToString() ?? "", ex);
            handle.Dispose();
            outcome = Outcome.Failed;
            return null;
        }
    }
}

/// <summary>What a listener gives every connection it serves.</summary>
internal sealed class ListenerSettings(EndPoint endPoint, EndPoint connectionLocalEndPoint, bool isPacket, EventLoopGroup loops, ILogger logger, IPeerAdmission? access)
{
    public EndPoint EndPoint { get; } = endPoint;

    /// <summary>The local endpoint each connection reports (may differ from the listener's own, see the listener).</summary>
    public EndPoint ConnectionLocalEndPoint { get; } = connectionLocalEndPoint;

    public bool IsPacket { get; } = isPacket;

    public EventLoopGroup Loops { get; } = loops;

    public ILogger Logger { get; } = logger;

    public IPeerAdmission? Access { get; } = access;

    public bool PreserveMessages { get; init; }

    public bool ReceivesDescriptors { get; set; }

    /// <summary>Set by the factory before Kestrel's first accept, so every connection is counted.</summary>
    public ListenerMetrics? Metrics { get; set; }
}
