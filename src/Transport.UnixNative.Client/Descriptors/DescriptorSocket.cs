using System.Net.Sockets;
using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;
using Socket = System.Net.Sockets.Socket;

namespace Transport.UnixNative.Client.Internal;

/// <summary>Async sendmsg/recvmsg with descriptors on a System.Net.Sockets socket.</summary>
internal static class DescriptorSocket
{
    /// <summary>One non-blocking sendmsg of <paramref name="data"/> with <paramref name="descriptors"/>; bytes sent or -1 with errno.</summary>
    private static nint TrySend(Socket socket, ReadOnlySpan<byte> data, IReadOnlyList<SafeHandle> descriptors, out int errno)
    {
        if (descriptors.Count > ControlMessages.MaxDescriptorsPerMessage)
        {
            throw new ArgumentException($"At most {ControlMessages.MaxDescriptorsPerMessage} descriptors travel with one send (the kernel's SCM_MAX_FD); {descriptors.Count} were given.", nameof(descriptors));
        }
        var refs = 0;
        try
        {
            Span<int> numbers = stackalloc int[descriptors.Count];
            foreach (var handle in descriptors)
            {
                var added = false;
                handle.DangerousAddRef(ref added);
                numbers[refs++] = (int)handle.DangerousGetHandle();
            }
            return Message.SendWithDescriptors(socket.SafeHandle, data, numbers, out errno, Message.MSG_DONTWAIT);
        }
        finally
        {
            for (var i = 0; i < refs; i++)
            {
                descriptors[i].DangerousRelease();
            }
        }
    }

    /// <summary>One non-blocking recvmsg that also takes descriptors (close-on-exec, appended to <paramref name="received"/>).</summary>
    private static nint TryReceive(Socket socket, Span<byte> buffer, ICollection<SafeHandle>? received, out bool truncated, out int errno)
    {
        var numbers = new List<int>();
        var n = Message.ReceiveDescriptors(socket.SafeHandle, buffer, ControlMessages.MaxDescriptorsPerMessage, numbers,
            out var flags, out errno, Message.MSG_DONTWAIT);
        truncated = (flags & ControlMessages.MSG_CTRUNC) != 0;
        foreach (var fd in numbers)
        {
            var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
            if (received is null)
            {
                handle.Dispose();
            }
            else
            {
                received.Add(handle);
            }
        }
        return n;
    }

    /// <summary>Sends <paramref name="data"/> (all of it) with <paramref name="descriptors"/> attached to its first byte.</summary>
    public static async ValueTask SendAsync(Socket socket, ReadOnlyMemory<byte> data, IReadOnlyList<SafeHandle> descriptors, CancellationToken cancellationToken)
    {
        while (true)
        {
            var n = TrySend(socket, data.Span, descriptors, out var errno);
            if (n >= 0)
            {
                // The descriptors went with the first byte; the rest is ordinary data.
                if (n < data.Length)
                {
                    await SendAllAsync(socket, data[(int)n..], cancellationToken).ConfigureAwait(false);
                }
                return;
            }
            if (errno != Libc.EAGAIN)
            {
                throw new IOException($"sendmsg with {descriptors.Count} descriptor(s) failed: {Libc.Describe(errno)}.", new SocketException(errno));
            }
            // The send buffer is full (rare: this is a connection's first write). The runtime has no
            // "wait until writable" for us; poll briefly off the caller's thread.
            await Task.Run(() => socket.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectWrite), cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    /// <summary>
    /// Receives one packet (seqpacket) or what is there (stream) into <paramref name="buffer"/>, with its
    /// descriptors. For seqpacket the caller passes a buffer as large as the packet (see <see cref="PeekPacketSizeAsync"/>).
    /// </summary>
    public static async ValueTask<int> ReceiveAsync(Socket socket, Memory<byte> buffer, ICollection<SafeHandle>? descriptors, CancellationToken cancellationToken)
    {
        while (true)
        {
            var n = TryReceive(socket, buffer.Span, descriptors, out var truncated, out var errno);
            if (n >= 0)
            {
                if (truncated)
                {
                    throw new IOException($"More than {ControlMessages.MaxDescriptorsPerMessage} descriptors arrived (MSG_CTRUNC); the kernel closed the rest.");
                }
                return (int)n;
            }
            if (errno != Libc.EAGAIN)
            {
                throw new IOException($"recvmsg failed: {Libc.Describe(errno)}.", new SocketException(errno));
            }
            // Wait until something is there without taking it.
            await socket.ReceiveAsync(new byte[1], SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
        }
    }

    private static readonly byte[] s_peekByte = new byte[1];

    /// <summary>The size of the next packet without taking it (0: end of stream).</summary>
    public static ValueTask<int> PeekPacketSizeAsync(Socket socket, CancellationToken cancellationToken)
        => socket.ReceiveAsync(s_peekByte, SocketFlags.Peek | SocketFlags.Truncated, cancellationToken);
}
