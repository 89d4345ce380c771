using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// sendmsg/recvmsg with SCM_RIGHTS on a System.Net.Sockets socket (the runtime has no API for ancillary
/// data), socketpair, and FD_CLOEXEC. Every call holds a reference on the socket's handle.
/// </summary>
internal static unsafe partial class DescriptorInterop
{
    private const string Name = "libc";
    private const int MSG_DONTWAIT = 0x40;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int MSG_CMSG_CLOEXEC = 0x40000000;
    private const int F_GETFD = 1;
    private const int F_SETFD = 2;
    private const int FD_CLOEXEC = 1;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;

    [LibraryImport(Name, SetLastError = true)]
    private static partial nint sendmsg(int fd, MessageHeader* message, int flags);

    [LibraryImport(Name, SetLastError = true)]
    private static partial nint recvmsg(int fd, MessageHeader* message, int flags);

    [LibraryImport(Name, SetLastError = true)]
    private static partial int socketpair(int domain, int type, int protocol, int* fds);

    [LibraryImport(Name, SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    /// <summary>One non-blocking sendmsg of <paramref name="data"/> with <paramref name="descriptors"/>; bytes sent or -1 with errno.</summary>
    public static nint Send(Socket socket, ReadOnlySpan<byte> data, IReadOnlyList<SafeHandle> descriptors, out int errno)
    {
        if (descriptors.Count > ControlMessages.MaxDescriptorsPerMessage)
        {
            throw new ArgumentException($"At most {ControlMessages.MaxDescriptorsPerMessage} descriptors travel with one send (the kernel's SCM_MAX_FD); {descriptors.Count} were given.", nameof(descriptors));
        }
        var refs = 0;
        var socketAdded = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref socketAdded);
            Span<int> numbers = stackalloc int[descriptors.Count];
            foreach (var handle in descriptors)
            {
                var added = false;
                handle.DangerousAddRef(ref added);
                numbers[refs++] = (int)handle.DangerousGetHandle();
            }
            var controlLength = numbers.IsEmpty ? 0 : ControlMessages.RightsSpace(numbers.Length);
            Span<byte> control = stackalloc byte[controlLength];
            if (controlLength > 0)
            {
                ControlMessages.WriteRights(control, numbers);
            }
            fixed (byte* payload = data)
            fixed (byte* controlBuffer = control)
            {
                var iov = new IOVector { Base = payload, Count = (nuint)data.Length };
                var message = new MessageHeader { IOVectors = &iov, IOVectorCount = 1, Control = controlLength > 0 ? controlBuffer : null, ControlLength = (nuint)controlLength };
                nint n;
                errno = 0;
                do
                {
                    n = sendmsg((int)socket.SafeHandle.DangerousGetHandle(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
                }
                while (n < 0 && (errno = Marshal.GetLastPInvokeError()) == EINTR);
                return n;
            }
        }
        finally
        {
            for (var i = 0; i < refs; i++)
            {
                descriptors[i].DangerousRelease();
            }
            if (socketAdded)
            {
                socket.SafeHandle.DangerousRelease();
            }
        }
    }

    /// <summary>One non-blocking recvmsg that also takes descriptors (close-on-exec, appended to <paramref name="received"/>).</summary>
    public static nint Receive(Socket socket, Span<byte> buffer, ICollection<SafeHandle>? received, out bool truncated, out int errno)
    {
        Span<byte> control = stackalloc byte[ControlMessages.RightsSpace(ControlMessages.MaxDescriptorsPerMessage)];
        var added = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref added);
            fixed (byte* payload = buffer)
            fixed (byte* controlBuffer = control)
            {
                var iov = new IOVector { Base = payload, Count = (nuint)buffer.Length };
                var message = new MessageHeader { IOVectors = &iov, IOVectorCount = 1, Control = controlBuffer, ControlLength = (nuint)control.Length };
                nint n;
                errno = 0;
                do
                {
                    n = recvmsg((int)socket.SafeHandle.DangerousGetHandle(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                }
                while (n < 0 && (errno = Marshal.GetLastPInvokeError()) == EINTR);
                truncated = n >= 0 && (message.Flags & ControlMessages.MSG_CTRUNC) != 0;
                if (n >= 0 && message.ControlLength > 0)
                {
                    var numbers = new List<int>();
                    ControlMessages.ReadRights(control[..(int)message.ControlLength], numbers);
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
                }
                return n;
            }
        }
        finally
        {
            if (added)
            {
                socket.SafeHandle.DangerousRelease();
            }
        }
    }

    /// <summary>socketpair(2), both ends close-on-exec; 0 or errno.</summary>
    public static int CreatePair(int type, out int first, out int second)
    {
        var fds = stackalloc int[2];
        if (socketpair(Libc.AF_UNIX, type | Libc.SOCK_CLOEXEC, 0, fds) != 0)
        {
            first = second = -1;
            return Marshal.GetLastPInvokeError();
        }
        first = fds[0];
        second = fds[1];
        return 0;
    }

    /// <summary>Sets or clears FD_CLOEXEC; 0 or errno.</summary>
    public static int SetCloseOnExec(SafeHandle handle, bool closeOnExec)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            var flags = fcntl(fd, F_GETFD, 0);
            if (flags < 0 || fcntl(fd, F_SETFD, closeOnExec ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC) < 0)
            {
                return Marshal.GetLastPInvokeError();
            }
            return 0;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }
}
