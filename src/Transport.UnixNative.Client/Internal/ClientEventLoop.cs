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

    private readonly int _epoll;
    private readonly ConcurrentDictionary<ulong, InlineSocketStream> _streams = new();
    private long _nextId;

    private ClientEventLoop()
    {
        _epoll = ClientEpoll.epoll_create1(ClientEpoll.EPOLL_CLOEXEC);
        if (_epoll < 0)
        {
            throw new SocketException(System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), "epoll_create1 failed for the client's event loop");
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
            var events = ClientEpoll.EPOLLIN | ClientEpoll.EPOLLOUT | ClientEpoll.EPOLLRDHUP | ClientEpoll.EPOLLET;
            if (ClientEpoll.Control(_epoll, ClientEpoll.EPOLL_CTL_ADD, (int)socket.DangerousGetHandle(), events, id) != 0)
            {
                var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
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
            ClientEpoll.Control(_epoll, ClientEpoll.EPOLL_CTL_DEL, (int)socket.DangerousGetHandle(), 0, 0);
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
        buffer = buffer[..(MaxEvents * ClientEpoll.EventSize)];
        while (true)
        {
            var count = ClientEpoll.Wait(_epoll, buffer);
            for (var i = 0; i < count; i++)
            {
                ClientEpoll.ReadEvent(buffer, i, out var events, out var id);
                if (_streams.TryGetValue(id, out var stream))
                {
                    // HUP/ERR: wake both sides and let the next syscall tell what happened.
                    const uint failed = ClientEpoll.EPOLLERR | ClientEpoll.EPOLLHUP;
                    try
                    {
                        stream.OnReady(
                            readable: (events & (ClientEpoll.EPOLLIN | ClientEpoll.EPOLLRDHUP | failed)) != 0,
                            writable: (events & (ClientEpoll.EPOLLOUT | failed)) != 0);
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
