using Transport.UnixNative.Internal;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Handover;

/// <summary>
/// One connected SOCK_SEQPACKET control socket between a predecessor and its successor: whole
/// messages, descriptors attached with SCM_RIGHTS. Blocking waits with poll, each with a deadline,
/// and optionally a wake-up descriptor that ends the wait early.
/// </summary>
internal sealed class ControlChannel(SafeFdHandle socket, string controlPath) : IDisposable
{
    private const int MaxMessage = 64 * 1024;

    public SafeFdHandle Socket { get; } = socket;

    /// <summary>The peer as of connect(2).</summary>
    public UCred Peer => Interop.Socket.GetPeerCredentials(Socket.Fd, out var peer) == 0 ? peer : throw NativeError.Exception("Cannot read SO_PEERCRED of hand-over socket", controlPath, Libc.LastErrno);

    public void Send(ReadOnlySpan<byte> message, ReadOnlySpan<int> descriptors = default)
    {
        while (true)
        {
            if (Message.SendWithDescriptors(Socket, message, descriptors, out var errno) >= 0)
            {
                return;
            }
            if (errno != Libc.EAGAIN || Poll.WaitAny([Socket], Poll.POLLOUT, TimeSpan.FromSeconds(10), out _) < 0)
            {
                throw NativeError.Exception("Cannot send on hand-over socket", controlPath, errno == Libc.EAGAIN ? Libc.ETIMEDOUT : errno);
            }
        }
    }

    /// <summary>
    /// The next message and its descriptors; <see langword="null"/> when the peer closed the channel,
    /// the deadline passed or <paramref name="wake"/> became readable.
    /// </summary>
    public byte[]? Receive(TimeSpan timeout, List<SafeFdHandle> descriptors, SafeFdHandle? wake = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        var buffer = new byte[MaxMessage];
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                return null;
            }
            var ready = wake is null ? Poll.WaitAny([Socket], Poll.POLLIN, left, out var pollErrno) : Poll.WaitAny([Socket, wake], Poll.POLLIN, left, out pollErrno);
            if (ready == -2)
            {
                throw NativeError.Exception("Cannot wait on hand-over socket", controlPath, pollErrno);
            }
            if (ready != 0)
            {
                return null; // timed out or woken
            }
            var n = Message.ReceiveWithDescriptors(Socket, buffer, ControlMessages.MaxDescriptorsPerMessage, descriptors, out var flags, out var errno);
            if (n < 0 && errno == Libc.EAGAIN)
            {
                continue;
            }
            if (n < 0)
            {
                return errno == Libc.ECONNRESET ? null : throw NativeError.Exception("Cannot receive on hand-over socket", controlPath, errno);
            }
            if ((flags & (Message.MSG_TRUNC | ControlMessages.MSG_CTRUNC)) != 0)
            {
                throw new IOException($"A hand-over message on '{controlPath}' did not fit ({n} bytes, flags 0x{flags:x}); nothing was taken.");
            }
            return n == 0 ? null : buffer[..(int)n];
        }
    }

    public void Dispose() => Socket.Dispose();
}
