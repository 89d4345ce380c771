using System.Net;
using System.Net.Sockets;
using System.Text;
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
    // The runtime's representation of an unnamed peer (the usual case: clients rarely bind).
    private static readonly EndPoint s_unnamedPeer = new UnixDomainSocketEndPoint("/").Create(new SocketAddress(AddressFamily.Unix, SockAddrUn.PathOffset));

    /// <summary>
    /// The peer's own address, exactly. The runtime's types show it when their text is exact and safe to
    /// log (UTF-8 without control characters, and short enough for UnixDomainSocketEndPoint); any other
    /// address the kernel allows becomes a <see cref="UnixPeerEndPoint"/> of its raw bytes.
    /// </summary>
    internal static EndPoint RemoteEndPointOf(ReadOnlySpan<byte> sockaddr, bool isPacket)
    {
        var name = SockAddrUn.DecodeBytes(sockaddr, out var isAbstract);
        if (name.IsEmpty && !isAbstract)
        {
            return isPacket ? UnixSeqpacketEndPoint.Unnamed : s_unnamedPeer;
        }
        if (!name.IsEmpty && name.Length <= SockAddrUn.MaxPathBytes && UnixPeerEndPoint.IsPrintableUtf8(name))
        {
            var text = Encoding.UTF8.GetString(name);
            if (isPacket)
            {
                return new UnixSeqpacketEndPoint(isAbstract ? "@" + text : text);
            }
            try
            {
                return new UnixDomainSocketEndPoint(isAbstract ? "\0" + text : text);
            }
            catch (ArgumentException)
            {
                // A limit of the runtime's type, not of the kernel: keep the bytes instead.
            }
        }
        return new UnixPeerEndPoint(name, isAbstract);
    }

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
            var remote = RemoteEndPointOf(peerAddress, listener.IsPacket);
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
