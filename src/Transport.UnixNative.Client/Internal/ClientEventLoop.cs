using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// One epoll thread for the client's inline connection streams. It only tells a stream that its socket became
/// readable or writable; the stream's waiting read or write resumes right here, on this thread, without a hop
/// through the thread pool (the hop is most of the client's CPU on a busy sidecar call). Registration is
/// edge-triggered, once per connection; ids are never reused, so an event fetched for a closed connection finds nothing.
/// </summary>
internal sealed class ClientEventLoop
{
    private const int MaxEvents = 64;
    private static readonly Lazy<ClientEventLoop> s_instance = new(() => new ClientEventLoop());

    private readonly SafeFdHandle _epoll;
    private readonly ConcurrentDictionary<ulong, InlineSocketStream> _streams = new();
    private long _nextId;

    private ClientEventLoop()
    {
        _epoll = Epoll.Create();
        if (_epoll.IsInvalid)
        {
            var errno = Libc.LastErrno;
            throw new SocketException((int)Libc.ToSocketError(errno), $"epoll_create1 failed for the client's event loop: {Libc.Describe(errno)}");
        }
        new Thread(Run) { IsBackground = true, Name = "unp-client-loop" }.Start();
    }

    public static ClientEventLoop Instance => s_instance.Value;

    /// <summary>Watches <paramref name="stream"/>'s socket; returns its id for <see cref="Remove"/>.</summary>
    public ulong Add(InlineSocketStream stream, SafeHandle socket)
    {
        var id = (ulong)Interlocked.Increment(ref _nextId);
        _streams[id] = stream;
        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            var events = Epoll.EPOLLIN | Epoll.EPOLLOUT | Epoll.EPOLLRDHUP | Epoll.EPOLLET;
            if (Epoll.Control(_epoll.Fd, Epoll.EPOLL_CTL_ADD, (int)socket.DangerousGetHandle(), events, id) != 0)
            {
                var errno = Libc.LastErrno;
                _streams.TryRemove(id, out _);
                throw new SocketException((int)Libc.ToSocketError(errno), $"epoll_ctl(EPOLL_CTL_ADD) failed for a client connection: {Libc.Describe(errno)}");
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
        return id;
    }

    /// <summary>Stops watching; call before the socket closes, so its number may be reused safely.</summary>
    public void Remove(ulong id, SafeHandle socket)
    {
        _streams.TryRemove(id, out _);
        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            Epoll.Control(_epoll.Fd, Epoll.EPOLL_CTL_DEL, (int)socket.DangerousGetHandle(), 0, 0);
        }
        catch (ObjectDisposedException)
        {
            // Already closed: the kernel dropped the registration with it.
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    private void Run()
    {
        Span<byte> buffer = stackalloc byte[MaxEvents * 16];
        buffer = buffer[..(MaxEvents * Epoll.EventSize)];
        while (true)
        {
            var count = Epoll.Wait(_epoll, buffer);
            for (var i = 0; i < count; i++)
            {
                Epoll.ReadEvent(buffer, i, out var events, out var id);
                if (_streams.TryGetValue(id, out var stream))
                {
                    // HUP/ERR: wake both sides and let the next syscall tell what happened.
                    const uint failed = Epoll.EPOLLERR | Epoll.EPOLLHUP;
                    try
                    {
                        stream.OnReady(
                            readable: (events & (Epoll.EPOLLIN | Epoll.EPOLLRDHUP | failed)) != 0,
                            writable: (events & (Epoll.EPOLLOUT | failed)) != 0);
                    }
                    catch (Exception)
                    {
                        // What resumed here belongs to a caller (its task holds its own errors); one that still
                        // throws must not end the thread every other connection waits on.
                    }
                }
            }
        }
    }
}
