using Microsoft.Extensions.Logging;
using Transport.UnixNative.Activation;
using Transport.UnixNative.Internal;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Handover;

/// <summary>
/// The successor's side: connect to the predecessor's control socket, take its listening sockets,
/// and once they are served here tell it to stop accepting.
/// </summary>
internal sealed class HandoverSession : IDisposable
{
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(10);

    private readonly ControlChannel _channel;
    private readonly string _controlPath;

    private HandoverSession(ControlChannel channel, string controlPath, int predecessorPid, IReadOnlyList<InheritedListener> sockets)
    {
        _channel = channel;
        _controlPath = controlPath;
        PredecessorPid = predecessorPid;
        Sockets = sockets;
    }

    public int PredecessorPid { get; }

    public IReadOnlyList<InheritedListener> Sockets { get; }

    /// <summary>Takes the predecessor's sockets, or returns <see langword="null"/> when nobody listens on <paramref name="controlPath"/>.</summary>
    public static unsafe HandoverSession? TryOpen(string controlPath, ILogger logger)
    {
        var address = UnixSocketAddress.Parse(controlPath, isSeqpacket: true);
        var channel = new ControlChannel(Interop.Socket.Create(Interop.Socket.AF_UNIX, Interop.Socket.SOCK_SEQPACKET), controlPath);
        try
        {
            if (channel.Socket.IsInvalid)
            {
                throw NativeError.Exception("Cannot create a hand-over socket for", controlPath, Libc.LastErrno);
            }
            Span<byte> sockaddr = stackalloc byte[SockAddrUn.Size];
            var length = SockAddrUn.Encode(address.IsAbstract, address.Name, sockaddr);
            int rc;
            fixed (byte* p = sockaddr)
            {
                rc = Interop.Socket.connect(channel.Socket, p, length);
            }
            var errno = rc == 0 ? 0 : Libc.LastErrno;
            if (errno is Libc.ENOENT or Libc.ECONNREFUSED)
            {
                TransportLog.HandoverNoPredecessor(logger, controlPath, Libc.Describe(errno));
                channel.Dispose();
                return null;
            }
            if (errno != 0)
            {
                throw NativeError.Exception("Cannot reach the predecessor's hand-over socket", controlPath, errno);
            }

            // Sockets from a process of another user would let it serve our clients: refuse them.
            var peer = channel.Peer;
            var ownUid = Users.geteuid();
            if (peer.Uid != ownUid)
            {
                throw new UnauthorizedAccessException($"The hand-over socket '{controlPath}' is served by uid {peer.Uid} (pid {peer.Pid}), not by this process's uid {ownUid}: refusing its sockets.");
            }

            channel.Send(HandoverMessages.Take);
            var descriptors = new List<SafeFdHandle>();
            var answer = channel.Receive(s_answerTimeout, descriptors);
            try
            {
                if (answer is null)
                {
                    throw new IOException($"The predecessor (pid {peer.Pid}) at hand-over socket '{controlPath}' closed the hand-over or did not answer within {s_answerTimeout.TotalSeconds:F0} s; it gives its sockets only to its own uid ({peer.Uid}).");
                }
                var entries = HandoverMessages.Parse(answer);
                if (entries.Count != descriptors.Count)
                {
                    throw new IOException($"The predecessor at '{controlPath}' described {entries.Count} socket(s) but sent {descriptors.Count} descriptor(s).");
                }
                var sockets = new List<InheritedListener>();
                for (var i = 0; i < entries.Count; i++)
                {
                    var entry = entries[i];
                    TransportLog.HandoverReceived(logger, entry.Address.DisplayName, peer.Pid, controlPath);
                    sockets.Add(new InheritedListener(entry.FdName, entry.Address, descriptors[i], StillTheSameFile(entry), InheritedFrom.Predecessor));
                }
                descriptors.Clear();
                return new HandoverSession(channel, controlPath, peer.Pid, sockets);
            }
            finally
            {
                foreach (var unused in descriptors)
                {
                    unused.Dispose();
                }
            }
        }
        catch
        {
            channel.Dispose();
            throw;
        }
    }

    // The file ownership moves with the socket only if the path still holds the inode the predecessor created.
    private static SocketFile.FileIdentity? StillTheSameFile(HandoverMessages.Entry entry)
        => entry.OwnedFile is { } owned && !entry.Address.IsAbstract && SocketFile.Identify(entry.Address.Name) == owned ? owned : null;

    /// <summary>Tells the predecessor that this process serves now, and waits until it no longer accepts; true once it said so.</summary>
    public bool Complete(ILogger logger)
    {
        try
        {
            _channel.Send(HandoverMessages.Ready);
            var answer = _channel.Receive(s_answerTimeout, []);
            if (answer is not null && answer.AsSpan().SequenceEqual(HandoverMessages.Done))
            {
                TransportLog.HandoverTakenOver(logger, PredecessorPid);
                return true;
            }
            return false;
        }
        catch (IOException exception)
        {
            // The predecessor went away: nothing left to stop, this process serves either way.
            TransportLog.HandoverFailed(logger, _controlPath, exception);
            return false;
        }
        finally
        {
            _channel.Dispose();
        }
    }

    public void Dispose() => _channel.Dispose();
}
