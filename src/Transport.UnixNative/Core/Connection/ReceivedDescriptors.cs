using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Pipes;

namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// Descriptors that arrived on a byte-stream connection, each tagged with the input position of a byte it
/// came with (the last byte of the read that delivered it). A consumer may take those whose bytes it has consumed (the connection's
/// input counts them): that is how a request sees only its own descriptors.
/// </summary>
/// <remarks>
/// Only endpoints that receive descriptors have one. Every descriptor queued here counts in <paramref name="held"/>
/// until it is taken or closed: receives are sized by what that still allows, so the queue never outgrows it.
/// </remarks>
internal sealed class ReceivedDescriptors(ConnectionPipe input, HeldDescriptors held) : IUnixFileDescriptorsFeature
{
    // Made at the first descriptor (most connections never get one) and then also the lock. Only the
    // loop thread makes it (Add) and closes (CloseAll); other threads read it through Volatile.
    private Queue<(long Position, SafeFdHandle Handle)>? _queue;
    private bool _closed;
    private int _count; // _queue.Count, readable without the lock

    /// <summary>Queues <paramref name="handles"/> (already counted as held) that came with the byte at <paramref name="position"/> (takeable once it is consumed); closes them when the connection is closed. Loop thread.</summary>
    public void Add(long position, List<SafeFdHandle> handles)
    {
        if (!_closed && _queue is null)
        {
            Volatile.Write(ref _queue, new Queue<(long, SafeFdHandle)>());
        }
        var queue = _queue;
        if (queue is not null)
        {
            lock (queue)
            {
                if (!_closed)
                {
                    foreach (var handle in handles)
                    {
                        queue.Enqueue((position, handle));
                    }
                    Volatile.Write(ref _count, queue.Count);
                    return;
                }
            }
        }
        handles.ForEach(h => h.Dispose());
        held.Release(handles.Count);
    }

    /// <summary>No descriptor is queued, consumed or not (read without the lock).</summary>
    public bool IsEmpty => Volatile.Read(ref _count) == 0;

    public int Count
    {
        get
        {
            var consumed = input.Consumed;
            if (Volatile.Read(ref _queue) is not { } queue)
            {
                return 0;
            }
            lock (queue)
            {
                var count = 0;
                foreach (var (position, _) in queue)
                {
                    if (position >= consumed)
                    {
                        break;
                    }
                    count++;
                }
                return count;
            }
        }
    }

    public SafeHandle? TryTake()
    {
        var consumed = input.Consumed;
        if (Volatile.Read(ref _queue) is not { } queue)
        {
            return null;
        }
        lock (queue)
        {
            if (!queue.TryPeek(out var next) || next.Position >= consumed)
            {
                return null;
            }
            queue.Dequeue();
            Volatile.Write(ref _count, queue.Count);
            held.Release(1); // the application's from here (or closed by CloseConsumed)
            return HandOver(next.Handle);
        }
    }

    public IReadOnlyList<SafeHandle> TakeAll()
    {
        var taken = new List<SafeHandle>();
        while (TryTake() is { } handle)
        {
            taken.Add(handle);
        }
        return taken;
    }

    /// <summary>Closes every descriptor that came with bytes already consumed (the request that owned them has ended).</summary>
    public void CloseConsumed()
    {
        if (Volatile.Read(ref _count) == 0)
        {
            return; // the usual case, without the lock
        }
        while (TryTake() is { } handle)
        {
            handle.Dispose();
        }
    }

    /// <summary>Closes everything, now and on arrival (the connection is closed). Loop thread.</summary>
    public void CloseAll()
    {
        _closed = true;
        if (_queue is not { } queue)
        {
            return;
        }
        lock (queue)
        {
            var closed = queue.Count;
            while (queue.TryDequeue(out var entry))
            {
                entry.Handle.Dispose();
            }
            Volatile.Write(ref _count, 0);
            held.Release(closed);
        }
    }

    /// <summary>
    /// Gives the application a <see cref="Microsoft.Win32.SafeHandles.SafeFileHandle"/> (usable with
    /// <see cref="RandomAccess"/> and <see cref="FileStream"/>) that takes over the descriptor.
    /// </summary>
    internal static Microsoft.Win32.SafeHandles.SafeFileHandle HandOver(SafeFdHandle received)
    {
        var fd = received.DangerousGetHandle();
        received.SetHandleAsInvalid(); // ownership moves; the number is not closed
        return new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
    }
}
