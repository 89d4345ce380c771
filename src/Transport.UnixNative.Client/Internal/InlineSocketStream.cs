using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Transport.UnixNative.Interop;
using Socket = System.Net.Sockets.Socket;

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// A connection stream for <see cref="UnixSocketClientOptions.UnsafePreferInlineCompletions"/>: recv/send are tried
/// first on the non-blocking socket; only on EAGAIN does a read or write wait, and <see cref="ClientEventLoop"/>
/// resumes it on its own thread when the socket is ready (no thread-pool hop). One read and one write may be
/// outstanding at a time, as SocketsHttpHandler does.
/// </summary>
internal sealed class InlineSocketStream : Stream
{
    private readonly Socket _socket;
    private readonly ulong _id;
    private readonly Waiter _reader = new();
    private readonly Waiter _writer = new();
    private int _disposed;

    /// <param name="socket">Connected, never used for an asynchronous Socket operation (it would join .NET's own epoll too); owned from here on.</param>
    public InlineSocketStream(Socket socket)
    {
        _socket = socket;
        _socket.Blocking = false;
        _id = ClientEventLoop.Instance.Add(this, socket.SafeHandle);
    }

    public Socket Socket => _socket;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Called on the loop thread: wakes a waiting read or write, which then runs on this thread.</summary>
    internal void OnReady(bool readable, bool writable)
    {
        if (readable)
        {
            _reader.Signal();
        }
        if (writable)
        {
            _writer.Signal();
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            var seen = _reader.Sequence;
            var n = NonBlockingSocket.Receive(_socket.SafeHandle, buffer.Span, out var errno);
            if (n >= 0)
            {
                return (int)n;
            }
            if (errno == Libc.EINTR)
            {
                continue;
            }
            if (errno != Libc.EAGAIN)
            {
                throw Failed(errno, "recv");
            }
            await _reader.WaitAsync(seen, this, cancellationToken).ConfigureAwait(false);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            var seen = _writer.Sequence;
            var n = NonBlockingSocket.Send(_socket.SafeHandle, buffer.Span, out var errno);
            if (n >= 0)
            {
                buffer = buffer[(int)n..];
                continue;
            }
            if (errno == Libc.EINTR)
            {
                continue;
            }
            if (errno != Libc.EAGAIN)
            {
                throw Failed(errno, "send");
            }
            await _writer.WaitAsync(seen, this, cancellationToken).ConfigureAwait(false);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Synchronous calls (HttpClient.Send) wait for the loop like any other caller; never call them on the loop thread.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override int Read(Span<byte> buffer)
    {
        var rented = new byte[buffer.Length];
        var n = Read(rented, 0, rented.Length);
        rented.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // Out of epoll before the number can be reused; then fail what still waits.
            ClientEventLoop.Instance.Remove(_id, _socket.SafeHandle);
            _reader.Fail(new ObjectDisposedException(nameof(InlineSocketStream)));
            _writer.Fail(new ObjectDisposedException(nameof(InlineSocketStream)));
            _socket.Dispose();
        }
        base.Dispose(disposing);
    }

    private static IOException Failed(int errno, string call)
        => new($"{call} on a unix socket failed: {Libc.Describe(errno)}", new SocketException((int)Libc.ToSocketError(errno)));

    /// <summary>
    /// One side's wait for readiness. <see cref="Sequence"/> counts the loop's signals: a wait armed after a signal
    /// it did not see returns at once, so an edge that arrives between EAGAIN and the wait is never lost.
    /// </summary>
    private sealed class Waiter : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core; // continuations run where the signal lands: the loop thread
        private int _sequence;
        private int _armed;

        public int Sequence => Volatile.Read(ref _sequence);

        public void Signal()
        {
            Interlocked.Increment(ref _sequence);
            if (Interlocked.Exchange(ref _armed, 0) == 1)
            {
                _core.SetResult(true);
            }
        }

        public void Fail(Exception error)
        {
            if (Interlocked.Exchange(ref _armed, 0) == 1)
            {
                _core.SetException(error);
            }
        }

        public async ValueTask WaitAsync(int seen, InlineSocketStream stream, CancellationToken cancellationToken)
        {
            _core.Reset();
            Interlocked.Exchange(ref _armed, 1);
            if (Volatile.Read(ref _sequence) != seen || stream._disposed != 0)
            {
                // Ready (or closed) since the syscall: try again without waiting.
                if (Interlocked.Exchange(ref _armed, 0) == 1)
                {
                    return;
                }
            }
            using var registration = cancellationToken.CanBeCanceled
                ? cancellationToken.UnsafeRegister(static (state, token) =>
                {
                    var waiter = (Waiter)state!;
                    waiter.Fail(new OperationCanceledException(token));
                }, this)
                : default;
            await new ValueTask(this, _core.Version).ConfigureAwait(false);
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags);

        public void GetResult(short token) => _core.GetResult(token);
    }
}
