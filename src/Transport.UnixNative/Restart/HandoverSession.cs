using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Restart;

/// <summary>
/// The successor's side: connect to the predecessor's control socket, take its listening sockets,
/// and once they are served here tell it to stop accepting.
/// </summary>
internal sealed class HandoverSession : IDisposable
{
    // Well inside the predecessor's deadline per exchange, so a busy or slow start never looks like silence.
    private static readonly TimeSpan s_heartbeat = TimeSpan.FromSeconds(1);

    private readonly ControlChannel _channel;
    private readonly string _controlPath;
    private readonly ManualResetEventSlim _stopHeartbeat = new();
    private readonly Thread _heartbeat;
    private SafeFdHandle? _controlListener;

    private HandoverSession(ControlChannel channel, string controlPath, int predecessorPid, IReadOnlyList<InheritedListener> sockets, SafeFdHandle? controlListener)
    {
        _channel = channel;
        _controlPath = controlPath;
        _controlListener = controlListener;
        PredecessorPid = predecessorPid;
        Sockets = sockets;
        // A thread of its own: a starting application may keep the thread pool too busy for a timer.
        _heartbeat = new Thread(Heartbeat) { IsBackground = true, Name = "UnixNative hand-over heartbeat" };
    }

    /// <summary>The predecessor's listening control socket (abstract control addresses only), for this process to serve next.</summary>
    public SafeFdHandle? TakeControlListener() => Interlocked.Exchange(ref _controlListener, null);

    private void Heartbeat()
    {
        while (!_stopHeartbeat.Wait(s_heartbeat))
        {
            try
            {
                _channel.Send(HandoverMessages.Starting);
            }
            catch (Exception exception) when (exception is IOException or ObjectDisposedException)
            {
                return; // the predecessor went away: Complete says so
            }
        }
    }

    private void StopHeartbeat()
    {
        _stopHeartbeat.Set();
        if (_heartbeat.IsAlive && Thread.CurrentThread != _heartbeat)
        {
            _heartbeat.Join();
        }
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
            try
            {
                switch (channel.Receive(ControlChannel.AnswerTimeout, descriptors, out var answer))
                {
                    case ControlReceive.TimedOut:
                        throw new IOException($"The predecessor (pid {peer.Pid}) at hand-over socket '{controlPath}' did not answer within {ControlChannel.AnswerTimeout.TotalSeconds:F0} s. " +
                            "It serves one successor at a time: another process may be holding the hand-over (see the predecessor's log).");
                    case ControlReceive.Closed or ControlReceive.Woken:
                        throw new IOException($"The predecessor (pid {peer.Pid}) at hand-over socket '{controlPath}' closed the hand-over without answering (see its log for why).");
                }
                var entries = HandoverMessages.Parse(answer, out var withControlSocket);
                var expected = entries.Count + (withControlSocket ? 1 : 0);
                if (expected != descriptors.Count)
                {
                    throw new IOException($"The predecessor at '{controlPath}' described {expected} socket(s) but sent {descriptors.Count} descriptor(s).");
                }
                var sockets = new List<InheritedListener>();
                for (var i = 0; i < entries.Count; i++)
                {
                    var entry = entries[i];
                    TransportLog.HandoverReceived(logger, entry.Address.DisplayName, peer.Pid, controlPath);
                    sockets.Add(new InheritedListener(entry.FdName, entry.Address, descriptors[i], StillTheSameFile(entry), InheritedFrom.Predecessor));
                }
                var controlListener = withControlSocket ? descriptors[^1] : null;
                descriptors.Clear();
                var session = new HandoverSession(channel, controlPath, peer.Pid, sockets, controlListener);
                session._heartbeat.Start();
                return session;
            }
            finally
            {
                // Whatever was not taken (an error, more than described) is closed here.
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
            StopHeartbeat();
            _channel.Send(HandoverMessages.Ready);
            if (_channel.Receive(ControlChannel.AnswerTimeout, null, out var answer) == ControlReceive.Message && answer.AsSpan().SequenceEqual(HandoverMessages.Done))
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

    public void Dispose()
    {
        StopHeartbeat();
        _channel.Dispose();
        TakeControlListener()?.Dispose();
    }
}
