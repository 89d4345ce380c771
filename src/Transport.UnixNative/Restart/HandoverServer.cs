using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Restart;

/// <summary>
/// The predecessor's side: a SOCK_SEQPACKET control socket (mode 0600) on which one successor of
/// the same uid takes every unix listening socket. Only after the successor says it serves them
/// does this process stop accepting, keep their files (they are the successor's now) and drain.
/// </summary>
internal sealed class HandoverServer : IDisposable
{
    // A successor that took the sockets may start slowly (JIT, configuration): it says STARTING every
    // second meanwhile, up to this long in all; its exit or silence ends the wait early.
    private static readonly TimeSpan s_readyTimeout = TimeSpan.FromMinutes(5);

    // Connections accepted just before the stop had no time to deliver their request; Kestrel's
    // graceful shutdown would close such a connection unanswered. Their clients wrote at once,
    // so a short pause lets every accepted request start before the drain.
    private static readonly TimeSpan s_settle = TimeSpan.FromMilliseconds(500);

    private readonly string _path;
    private readonly IRestartableTransport _factory;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly SafeFdHandle _listener;
    private readonly bool _isAbstract;
    private readonly HashSet<uint> _refusedUids = []; // only the hand-over thread uses it
    private readonly SocketFile.FileIdentity? _file;
    private readonly SocketFileLock? _fileLock;
    private readonly SafeFdHandle _wake;
    private readonly SafeFdHandle _wakeSender;
    private readonly Thread _thread;
    private int _fileReleased;

    private HandoverServer(string path, IRestartableTransport factory, IHostApplicationLifetime lifetime, ILogger logger,
        SafeFdHandle listener, SocketFile.FileIdentity? file, SocketFileLock? fileLock, SafeFdHandle wake, SafeFdHandle wakeSender)
    {
        _fileLock = fileLock;
        _path = path;
        _factory = factory;
        _lifetime = lifetime;
        _logger = logger;
        _listener = listener;
        _isAbstract = file is null;
        _file = file;
        _wake = wake;
        _wakeSender = wakeSender;
        _thread = new Thread(Run) { IsBackground = true, Name = "UnixNative hand-over" };
    }

    /// <summary>
    /// Listens on <paramref name="path"/> for a successor; <paramref name="inherited"/> is the predecessor's
    /// listening control socket for an abstract <paramref name="path"/> (already bound and listening).
    /// </summary>
    public static unsafe HandoverServer Start(string path, IRestartableTransport factory, IHostApplicationLifetime lifetime, ILogger logger,
        SafeFdHandle? inherited = null)
    {
        var address = UnixSocketAddress.Parse(path, isSeqpacket: true);
        if (inherited is not null)
        {
            if (!address.IsAbstract || !InheritedSocket.TryGetAddress(inherited.Fd, out var got) || got != address)
            {
                inherited.Dispose();
                throw new IOException($"The predecessor's hand-over socket is not a listening seqpacket socket on '{path}'.");
            }
            var (wake, wakeSender) = WakePair();
            var taken = new HandoverServer(path, factory, lifetime, logger, inherited, null, null, wake, wakeSender);
            taken._thread.Start();
            TransportLog.HandoverControlSocketTaken(logger, path);
            TransportLog.HandoverListening(logger, path);
            return taken;
        }
        var listener = Interop.Socket.Create(Interop.Socket.AF_UNIX, Interop.Socket.SOCK_SEQPACKET);
        SocketFileLock? fileLock = null;
        SocketFile.FileIdentity? file = null;
        try
        {
            if (listener.IsInvalid)
            {
                throw NativeError.Exception("Cannot create hand-over socket", path, Libc.LastErrno);
            }
            if (address.IsAbstract)
            {
                Span<byte> sockaddr = stackalloc byte[SockAddrUn.Size];
                var length = SockAddrUn.Encode(true, address.Name, sockaddr);
                fixed (byte* p = sockaddr)
                {
                    if (Interop.Socket.bind(listener, p, length) != 0)
                    {
                        throw NativeError.Exception("Cannot bind hand-over socket", path, Libc.LastErrno);
                    }
                }
            }
            else
            {
                SocketFile.PrepareForBind(address, out fileLock); // a predecessor that died leaves a stale file
                file = BindPrivately(listener, path);
            }
            if (Interop.Socket.listen(listener, 4) != 0)
            {
                throw NativeError.Exception("Cannot listen on hand-over socket", path, Libc.LastErrno);
            }
            var (wake, wakeSender) = WakePair();
            var server = new HandoverServer(path, factory, lifetime, logger, listener, file, fileLock, wake, wakeSender);
            server._thread.Start();
            TransportLog.HandoverListening(logger, path);
            return server;
        }
        catch
        {
            if (file is { } bound)
            {
                SocketFile.DeleteIfOwned(path, bound);
            }
            listener.Dispose();
            fileLock?.Dispose();
            throw;
        }
    }

    private static (SafeFdHandle Wake, SafeFdHandle Sender) WakePair()
    {
        var pair = Interop.Socket.CreatePair(Interop.Socket.SOCK_STREAM, out var wake, out var wakeSender);
        return pair == 0 ? (wake, wakeSender) : throw NativeError.Exception("socketpair", pair);
    }

    /// <summary>
    /// Binds in a fresh directory only this process can enter, makes the socket 0600 there, and only then
    /// links it to <paramref name="path"/>: nobody can swap a symbolic link in before the chmod (it never
    /// goes through a name others can change), and link(2) never replaces what another user put at the path.
    /// </summary>
    private static unsafe SocketFile.FileIdentity BindPrivately(SafeFdHandle listener, string path)
    {
        var parent = Path.GetDirectoryName(path) ?? "/";
        var directoryPath = FileSystem.CreatePrivateDirectory(Path.Combine(parent, "." + Path.GetFileName(path) + "."), out var directory);
        if (directoryPath is null)
        {
            throw NativeError.Exception("Cannot create a private directory beside hand-over socket", path, Libc.LastErrno);
        }
        const string Name = "s";
        try
        {
            if (FileSystem.TryGetStatus(directory, out var status) != 0 || !status.IsDirectory || status.Uid != Users.geteuid() || (status.Mode & 0x3F) != 0)
            {
                throw new IOException($"Cannot bind hand-over socket '{path}': the private directory '{directoryPath}' is not this process's own 0700 directory.");
            }
            // The descriptor's /proc name reaches exactly that directory, and is short enough for sun_path wherever it is.
            Span<byte> sockaddr = stackalloc byte[SockAddrUn.Size];
            var length = SockAddrUn.Encode(false, $"/proc/self/fd/{directory.Fd}/{Name}", sockaddr);
            fixed (byte* p = sockaddr)
            {
                if (Interop.Socket.bind(listener, p, length) != 0)
                {
                    throw NativeError.Exception("Cannot bind hand-over socket", path, Libc.LastErrno);
                }
            }
            // Before listen nobody can connect, and before the link nobody can reach it at all.
            if (FileSystem.fchmodat(directory, Name, 0x180 /* 0600 */, 0) != 0)
            {
                throw NativeError.Exception("Cannot make hand-over socket private (0600)", path, Libc.LastErrno);
            }
            if (FileSystem.TryGetStatus(directory, Name, out var bound) is var errno && errno != 0)
            {
                throw NativeError.Exception("Cannot inspect hand-over socket", path, errno);
            }
            if (FileSystem.linkat(directory, Name, FileSystem.AT_FDCWD, path, 0) != 0)
            {
                errno = Libc.LastErrno;
                throw errno == Libc.EEXIST
                    ? new IOException($"Cannot bind hand-over socket '{path}': something was put at the path meanwhile ({Libc.Describe(errno)}). It was left untouched; is the directory writable by others?")
                    : NativeError.Exception("Cannot bind hand-over socket", path, errno);
            }
            return new SocketFile.FileIdentity(bound.DevMajor, bound.DevMinor, bound.Inode);
        }
        finally
        {
            _ = FileSystem.unlinkat(directory, Name, 0);
            directory.Dispose();
            _ = FileSystem.unlinkat(FileSystem.AT_FDCWD, directoryPath, FileSystem.AT_REMOVEDIR);
        }
    }

    private unsafe void Run()
    {
        try
        {
            while (true)
            {
                var ready = Poll.WaitAny([_listener, _wake], Poll.POLLIN, TimeSpan.FromDays(1), out var errno);
                if (ready == 1)
                {
                    return; // disposed
                }
                if (ready == -2)
                {
                    throw NativeError.Exception("Cannot wait on hand-over socket", _path, errno);
                }
                if (ready != 0)
                {
                    continue;
                }
                var fd = Interop.Socket.accept4(_listener.Fd, null, null, Interop.Socket.SOCK_NONBLOCK | Interop.Socket.SOCK_CLOEXEC);
                if (fd < 0)
                {
                    continue; // EAGAIN, ECONNABORTED: the next one
                }
                using var channel = new ControlChannel(new SafeFdHandle(fd), _path);
                try
                {
                    if (Serve(channel))
                    {
                        return;
                    }
                }
                catch (IOException exception)
                {
                    // One successor's failure (it died mid-conversation) is that attempt's end, not the server's.
                    TransportLog.HandoverAbandoned(_logger, channel.Socket.IsClosed ? 0 : PeerPid(channel), exception.Message);
                }
            }
        }
        catch (Exception exception)
        {
            TransportLog.HandoverFailed(_logger, _path, exception);
        }
    }

    // One successor at a time: true once it took over and this process is stopping.
    private bool Serve(ControlChannel channel)
    {
        var peer = channel.Peer;
        var ownUid = Users.geteuid();
        if (peer.Uid != ownUid)
        {
            // Once per uid (an abstract control address is reachable by every uid): no log flood from reconnects.
            if (_refusedUids.Count < 1024 && _refusedUids.Add(peer.Uid))
            {
                TransportLog.HandoverRefused(_logger, peer.Pid, peer.Uid, ownUid);
            }
            return false;
        }
        // No descriptors are expected from a successor: the kernel closes any attached.
        switch (channel.Receive(ControlChannel.ExchangeTimeout, null, out var request, _wake))
        {
            case ControlReceive.TimedOut:
                TransportLog.HandoverTimedOut(_logger, peer.Pid, "request (TAKE)", ControlChannel.ExchangeTimeout.TotalSeconds);
                return false;
            case ControlReceive.Woken:
                return false;
            case ControlReceive.Closed:
                TransportLog.HandoverAbandoned(_logger, peer.Pid, "it closed the control socket without a request");
                return false;
        }
        if (!request.AsSpan().SequenceEqual(HandoverMessages.Take))
        {
            TransportLog.HandoverAbandoned(_logger, peer.Pid, $"an unknown request, not {Encoding.ASCII.GetString(HandoverMessages.Take)}");
            return false;
        }

        var listeners = _factory.Listeners.Where(l => l.Address is not null).ToArray();
        var entries = listeners.Select(l => new HandoverMessages.Entry(l.FdName ?? SystemdActivation.UnnamedFd, l.Address!, l.OwnedFile)).ToArray();
        // An abstract control socket goes along: the successor could not bind the name while we hold it.
        var handles = _isAbstract ? [.. listeners.Select(l => l.Handle), _listener] : listeners.Select(l => l.Handle).ToArray();
        var descriptors = new int[handles.Length];
        var added = new bool[handles.Length];
        try
        {
            for (var i = 0; i < handles.Length; i++)
            {
                handles[i].DangerousAddRef(ref added[i]);
                descriptors[i] = handles[i].Fd;
            }
            channel.Send(HandoverMessages.Describe(entries, withControlSocket: _isAbstract), descriptors);
        }
        finally
        {
            for (var i = 0; i < handles.Length; i++)
            {
                if (added[i])
                {
                    handles[i].DangerousRelease();
                }
            }
        }

        var readyBy = DateTime.UtcNow + s_readyTimeout;
        while (true)
        {
            switch (channel.Receive(ControlChannel.ExchangeTimeout, null, out var answer, _wake))
            {
                case ControlReceive.TimedOut:
                    TransportLog.HandoverTimedOut(_logger, peer.Pid, "READY or STARTING heartbeat after taking the sockets", ControlChannel.ExchangeTimeout.TotalSeconds);
                    return false;
                case ControlReceive.Woken:
                    return false;
                case ControlReceive.Closed:
                    TransportLog.HandoverAbandoned(_logger, peer.Pid, "it closed the control socket");
                    return false;
            }
            if (answer.AsSpan().SequenceEqual(HandoverMessages.Ready))
            {
                break;
            }
            if (!answer.AsSpan().SequenceEqual(HandoverMessages.Starting))
            {
                TransportLog.HandoverAbandoned(_logger, peer.Pid, "an unknown answer");
                return false;
            }
            if (DateTime.UtcNow > readyBy)
            {
                TransportLog.HandoverAbandoned(_logger, peer.Pid, $"not ready within {s_readyTimeout.TotalMinutes:F0} minutes");
                return false;
            }
        }

        // The files are the successor's now: our shutdown must not remove them (the same inode it serves).
        foreach (var listener in listeners)
        {
            listener.KeepSocketFile();
        }
        ReleaseControlFile();
        _factory.StopAcceptingAsync().GetAwaiter().GetResult();
        TransportLog.HandoverCompleted(_logger, listeners.Length, peer.Pid);
        try
        {
            channel.Send(HandoverMessages.Done);
        }
        catch (IOException)
        {
            // It is serving (it said so); whether it hears DONE changes nothing here.
        }
        Thread.Sleep(s_settle);
        _lifetime.StopApplication();
        return true;
    }

    private static int PeerPid(ControlChannel channel)
        => Interop.Socket.GetPeerCredentials(channel.Socket.Fd, out var peer) == 0 ? peer.Pid : 0;

    // The successor binds the control path next; only our own inode is ever removed.
    private void ReleaseControlFile()
    {
        if (Interlocked.Exchange(ref _fileReleased, 1) == 0)
        {
            if (_file is { } file)
            {
                SocketFile.DeleteIfOwned(_path, file);
            }
            _fileLock?.Dispose();
        }
    }

    public void Dispose()
    {
        unsafe
        {
            byte one = 1;
            _ = Libc.write(_wakeSender.Fd, &one, 1);
        }
        if (_thread.IsAlive && Thread.CurrentThread != _thread)
        {
            _thread.Join(TimeSpan.FromSeconds(10));
        }
        ReleaseControlFile();
        _listener.Dispose();
        _wake.Dispose();
        _wakeSender.Dispose();
    }
}
