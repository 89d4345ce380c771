namespace Transport.UnixNative.Interop;

/// <summary>sendmsg/recvmsg carrying descriptors (SCM_RIGHTS), for any socket the caller keeps open.</summary>
internal static unsafe partial class Message
{
    /// <summary>
    /// One sendmsg of <paramref name="data"/> with <paramref name="descriptors"/> attached
    /// (<c>MSG_NOSIGNAL</c>, EINTR retried). Returns the bytes sent, or -1 with <paramref name="errno"/>.
    /// On a stream socket the descriptors travel with the first byte sent.
    /// </summary>
    internal static nint SendWithDescriptors(SafeFdHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> descriptors, out int errno)
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
                    n = sendmsg(socket.Fd, &message, MSG_NOSIGNAL);
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
    internal static nint ReceiveWithDescriptors(SafeFdHandle socket, Span<byte> buffer, int maxDescriptors, List<SafeFdHandle> received,
        out int flags, out int errno)
    {
        var controlLength = ControlMessages.RightsSpace(Math.Clamp(maxDescriptors, 1, ControlMessages.MaxDescriptorsPerMessage));
        Span<byte> control = stackalloc byte[controlLength];
        var added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            var n = ReceiveWithControl(socket.Fd, buffer, control, out var filled, out flags, out errno);
            if (filled > 0)
            {
                var numbers = new List<int>();
                ControlMessages.ReadRights(control[..filled], numbers);
                foreach (var fd in numbers)
                {
                    received.Add(new SafeFdHandle(fd));
                }
            }
            return n;
        }
        finally
        {
            socket.DangerousRelease();
        }
    }

    /// <summary>
    /// One recvmsg on the event loop's own descriptor into <paramref name="buffer"/> with <paramref name="control"/>
    /// as the ancillary buffer (<c>MSG_CMSG_CLOEXEC</c>). Returns the bytes read (0 at end), or -1 with
    /// <paramref name="errno"/>; <paramref name="controlLength"/> is what the kernel put in the control buffer.
    /// </summary>
    internal static nint ReceiveWithControl(int fd, Span<byte> buffer, Span<byte> control, out int controlLength, out int flags, out int errno)
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
                n = recvmsg(fd, &message, MSG_CMSG_CLOEXEC);
            }
            while (n < 0 && (errno = Libc.LastErrno) == Libc.EINTR);
            flags = n >= 0 ? message.Flags : 0;
            controlLength = n >= 0 ? (int)message.ControlLength : 0;
            return n;
        }
    }
}
