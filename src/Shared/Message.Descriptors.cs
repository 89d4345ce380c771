// Compiled into the server and the client (src/Shared, one namespace): the one SCM_RIGHTS sendmsg/recvmsg.
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>sendmsg/recvmsg carrying descriptors (SCM_RIGHTS), for any socket the caller keeps open.</summary>
internal static unsafe partial class Message
{
    /// <summary>
    /// One sendmsg of <paramref name="data"/> with <paramref name="descriptors"/> attached
    /// (<c>MSG_NOSIGNAL</c> and <paramref name="sendFlags"/>, EINTR retried). Returns the bytes sent, or -1 with
    /// <paramref name="errno"/>. On a stream socket the descriptors travel with the first byte sent.
    /// </summary>
    internal static nint SendWithDescriptors(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> descriptors, out int errno,
        int sendFlags = 0)
    {
        var controlLength = descriptors.IsEmpty ? 0 : ControlMessages.RightsSpace(descriptors.Length);
        Span<byte> control = controlLength <= 512 ? stackalloc byte[controlLength] : new byte[controlLength];
        if (controlLength > 0)
        {
            ControlMessages.WriteRights(control, descriptors);
        }
        var added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            fixed (byte* payload = data)
            fixed (byte* controlBuffer = control)
            {
                var iov = new IOVector { Base = payload, Count = (nuint)data.Length };
                var message = new MessageHeader
                {
                    IOVectors = &iov,
                    IOVectorCount = 1,
                    Control = controlLength > 0 ? controlBuffer : null,
                    ControlLength = (nuint)controlLength,
                };
                nint n;
                errno = 0;
                do
                {
                    n = sendmsg((int)socket.DangerousGetHandle(), &message, MSG_NOSIGNAL | sendFlags);
                }
                while (n < 0 && (errno = Libc.LastErrno) == Libc.EINTR);
                return n;
            }
        }
        finally
        {
            socket.DangerousRelease();
        }
    }

    /// <summary>
    /// One recvmsg into <paramref name="buffer"/> that also takes up to <paramref name="maxDescriptors"/>
    /// descriptors (close-on-exec, owned by the caller from here on, appended to <paramref name="received"/>).
    /// Returns the bytes read (0 at end of stream), or -1 with <paramref name="errno"/>; <paramref name="flags"/>
    /// reports <c>MSG_TRUNC</c> and <see cref="ControlMessages.MSG_CTRUNC"/> (descriptors beyond the room were lost).
    /// </summary>
    internal static nint ReceiveDescriptors(SafeHandle socket, Span<byte> buffer, int maxDescriptors, List<int> received,
        out int flags, out int errno, int receiveFlags = 0)
    {
        var controlLength = ControlMessages.RightsSpace(Math.Clamp(maxDescriptors, 1, ControlMessages.MaxDescriptorsPerMessage));
        Span<byte> control = stackalloc byte[controlLength];
        var added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            var n = ReceiveWithControl((int)socket.DangerousGetHandle(), buffer, control, out var filled, out flags, out errno, receiveFlags);
            if (filled > 0)
            {
                ControlMessages.ReadRights(control[..filled], received);
            }
            return n;
        }
        finally
        {
            socket.DangerousRelease();
        }
    }

    /// <summary>
    /// One recvmsg into <paramref name="buffer"/> with <paramref name="control"/> as the ancillary buffer
    /// (<c>MSG_CMSG_CLOEXEC</c> and <paramref name="receiveFlags"/>). Returns the bytes read (0 at end), or -1 with
    /// <paramref name="errno"/>; <paramref name="controlLength"/> is what the kernel put in the control buffer.
    /// </summary>
    internal static nint ReceiveWithControl(int fd, Span<byte> buffer, Span<byte> control, out int controlLength, out int flags, out int errno,
        int receiveFlags = 0)
    {
        fixed (byte* payload = buffer)
        fixed (byte* controlBuffer = control)
        {
            var iov = new IOVector { Base = payload, Count = (nuint)buffer.Length };
            var message = new MessageHeader
            {
                IOVectors = &iov,
                IOVectorCount = 1,
                Control = controlBuffer,
                ControlLength = (nuint)control.Length,
            };
            nint n;
            errno = 0;
            do
            {
                n = recvmsg(fd, &message, MSG_CMSG_CLOEXEC | receiveFlags);
            }
            while (n < 0 && (errno = Libc.LastErrno) == Libc.EINTR);
            flags = n >= 0 ? message.Flags : 0;
            controlLength = n >= 0 ? (int)message.ControlLength : 0;
            return n;
        }
    }
}
