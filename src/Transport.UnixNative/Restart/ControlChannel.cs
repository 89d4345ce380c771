using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Restart;

/// <summary>How a wait for a control message ended.</summary>
internal enum ControlReceive
{
    Message,
    Closed,
    TimedOut,
    Woken,
}

/// <summary>
/// One connected SOCK_SEQPACKET control socket between a predecessor and its successor: whole
/// messages, descriptors attached with SCM_RIGHTS. Blocking waits with poll, each with a deadline,
/// and optionally a wake-up descriptor that ends the wait early.
/// </summary>
internal sealed class ControlChannel(SafeFdHandle socket, string controlPath) : IDisposable
{
    private const int MaxMessage = 64 * 1024;

    /// <summary>
    /// The deadline of each exchange on the control socket (a request, an answer, a heartbeat): a peer
    /// that goes quiet for this long is dropped, so it cannot hold the hand-over from a real successor.
    /// </summary>
    public static readonly TimeSpan ExchangeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a successor waits for each answer: the predecessor serves one successor at a time, so a
    /// request may queue behind another peer's exchanges (each bounded by <see cref="ExchangeTimeout"/>).
    /// </summary>
    public static readonly TimeSpan AnswerTimeout = 3 * ExchangeTimeout;

    private readonly object _sendGate = new();

    public SafeFdHandle Socket { get; } = socket;

    /// <summary>The peer as of connect(2).</summary>
    public UCred Peer => Interop.Socket.GetPeerCredentials(Socket.Fd, out var peer) == 0 ? peer : throw NativeError.Exception("Cannot read SO_PEERCRED of hand-over socket", controlPath, Libc.LastErrno);

    public void Send(ReadOnlySpan<byte> message, ReadOnlySpan<int> descriptors = default)
    {
        // A successor's heartbeat thread and its READY may race: one message at a time.
        lock (_sendGate)
        {
            while (true)
            {
                if (Message.SendWithDescriptors(Socket, message, descriptors, out var errno) >= 0)
                {
                    return;
                }
                if (errno != Libc.EAGAIN || Poll.WaitAny([Socket], Poll.POLLOUT, ExchangeTimeout, out _) < 0)
                {
                    throw NativeError.Exception("Cannot send on hand-over socket", controlPath, errno == Libc.EAGAIN ? Libc.ETIMEDOUT : errno);
                }
            }
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the next message. Descriptors attached to it go to
    /// <paramref name="descriptors"/> (the caller owns them); where none are expected
    /// (<paramref name="descriptors"/> null) the message is read with no room for any, so the kernel
    /// closes whatever a peer attached.
    /// </summary>
    public ControlReceive Receive(TimeSpan timeout, List<SafeFdHandle>? descriptors, out byte[]? message, SafeFdHandle? wake = null)
    {
        message = null;
        var deadline = DateTime.UtcNow + timeout;
        var buffer = new byte[MaxMessage];
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                return ControlReceive.TimedOut;
            }
            var ready = wake is null ? Poll.WaitAny([Socket], Poll.POLLIN, left, out var pollErrno) : Poll.WaitAny([Socket, wake], Poll.POLLIN, left, out pollErrno);
            if (ready == -2)
            {
                throw NativeError.Exception("Cannot wait on hand-over socket", controlPath, pollErrno);
            }
            if (ready == 1)
            {
                return ControlReceive.Woken;
            }
            if (ready != 0)
            {
                continue; // the deadline is checked above
            }
            nint n;
            int flags, errno;
            if (descriptors is null)
            {
                var added = false;
                try
                {
                    Socket.DangerousAddRef(ref added);
                    n = Message.ReceiveWithControl(Socket.Fd, buffer, [], out _, out flags, out errno);
                }
                finally
                {
                    if (added)
                    {
                        Socket.DangerousRelease();
                    }
                }
                flags &= ~ControlMessages.MSG_CTRUNC; // descriptors nobody asked for: the kernel closed them
            }
            else
            {
                n = Message.ReceiveWithDescriptors(Socket, buffer, ControlMessages.MaxDescriptorsPerMessage, descriptors, out flags, out errno);
            }
            if (n < 0 && errno == Libc.EAGAIN)
            {
                continue;
            }
            if (n < 0)
            {
                return errno == Libc.ECONNRESET ? ControlReceive.Closed : throw NativeError.Exception("Cannot receive on hand-over socket", controlPath, errno);
            }
            if ((flags & (Message.MSG_TRUNC | ControlMessages.MSG_CTRUNC)) != 0)
            {
                throw new IOException($"A hand-over message on '{controlPath}' did not fit ({n} bytes, flags 0x{flags:x}); nothing was taken.");
            }
            if (n == 0)
            {
                return ControlReceive.Closed;
            }
            message = buffer[..(int)n];
            return ControlReceive.Message;
        }
    }

    public void Dispose() => Socket.Dispose();
}
