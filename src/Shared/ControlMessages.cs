// Compiled into the server and the client (src/Shared, one namespace): SCM_RIGHTS encoding.
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary><c>struct cmsghdr</c> (LP64: 16 bytes; the data follows, aligned to <c>size_t</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ControlMessageHeader
{
    public nuint Length;
    public int Level;
    public int Type;
}

/// <summary>
/// Ancillary data of sendmsg/recvmsg: the CMSG_* macros over spans, so building and walking a
/// control buffer needs no pointer arithmetic. Only SCM_RIGHTS is produced; every kind is walked.
/// </summary>
internal static class ControlMessages
{
    internal const int SOL_SOCKET = 1;
    internal const int SCM_RIGHTS = 1;
    internal const int SCM_CREDENTIALS = 2;

    /// <summary>recvmsg's flag: the control buffer was too small and the kernel dropped (and closed) descriptors.</summary>
    internal const int MSG_CTRUNC = 0x8;

    /// <summary>The kernel's SCM_MAX_FD: sendmsg fails with EINVAL above it.</summary>
    internal const int MaxDescriptorsPerMessage = 253;

    internal static unsafe int HeaderSize => Align(sizeof(ControlMessageHeader));

    /// <summary>CMSG_ALIGN.</summary>
    internal static int Align(int length) => (length + nint.Size - 1) & ~(nint.Size - 1);

    /// <summary>CMSG_LEN: a header plus <paramref name="dataLength"/> bytes, unpadded (cmsg_len's value).</summary>
    internal static int Length(int dataLength) => HeaderSize + dataLength;

    /// <summary>CMSG_SPACE: what one message with <paramref name="dataLength"/> bytes takes in a buffer.</summary>
    internal static int Space(int dataLength) => HeaderSize + Align(dataLength);

    /// <summary>The control buffer size for <paramref name="count"/> descriptors in one SCM_RIGHTS message.</summary>
    internal static int RightsSpace(int count) => Space(count * sizeof(int));

    /// <summary>Writes one SCM_RIGHTS message carrying <paramref name="descriptors"/>; returns the bytes used (msg_controllen).</summary>
    internal static int WriteRights(Span<byte> control, ReadOnlySpan<int> descriptors)
    {
        if (descriptors.Length is 0 or > MaxDescriptorsPerMessage)
        {
            throw new ArgumentOutOfRangeException(nameof(descriptors), descriptors.Length,
                $"A message carries 1 to {MaxDescriptorsPerMessage} descriptors (the kernel's SCM_MAX_FD).");
        }
        var space = RightsSpace(descriptors.Length);
        if (control.Length < space)
        {
            throw new ArgumentException($"The control buffer needs {space} bytes.", nameof(control));
        }
        control[..space].Clear();
        var header = new ControlMessageHeader
        {
            Length = (nuint)Length(descriptors.Length * sizeof(int)),
            Level = SOL_SOCKET,
            Type = SCM_RIGHTS,
        };
        MemoryMarshal.Write(control, in header);
        MemoryMarshal.AsBytes(descriptors).CopyTo(control[HeaderSize..]);
        return space;
    }

    /// <summary>
    /// Appends every descriptor of every SCM_RIGHTS message in <paramref name="control"/> (the
    /// msg_controllen bytes recvmsg filled) to <paramref name="descriptors"/>, in order. Other kinds
    /// (SCM_CREDENTIALS) are skipped. The caller owns the descriptors and must close those it does not keep.
    /// </summary>
    /// <returns>The number appended.</returns>
    internal static int ReadRights(ReadOnlySpan<byte> control, List<int> descriptors)
    {
        var added = 0;
        var offset = 0;
        while (control.Length - offset >= HeaderSize)
        {
            var header = MemoryMarshal.Read<ControlMessageHeader>(control[offset..]);
            var length = (long)header.Length;
            if (length < HeaderSize || length > control.Length - offset)
            {
                break; // malformed or cut short: the kernel never produces it, but never read past the buffer
            }
            if (header.Level == SOL_SOCKET && header.Type == SCM_RIGHTS)
            {
                var data = control.Slice(offset + HeaderSize, (int)length - HeaderSize);
                foreach (var fd in MemoryMarshal.Cast<byte, int>(data[..(data.Length / sizeof(int) * sizeof(int))]))
                {
                    descriptors.Add(fd);
                    added++;
                }
            }
            offset += Align((int)length);
        }
        return added;
    }

    /// <summary>Whether <paramref name="control"/> (msg_controllen bytes from recvmsg) holds a SOL_SOCKET message of <paramref name="type"/>.</summary>
    internal static bool Contains(ReadOnlySpan<byte> control, int type)
    {
        var offset = 0;
        while (control.Length - offset >= HeaderSize)
        {
            var header = MemoryMarshal.Read<ControlMessageHeader>(control[offset..]);
            var length = (long)header.Length;
            if (length < HeaderSize || length > control.Length - offset)
            {
                return false;
            }
            if (header.Level == SOL_SOCKET && header.Type == type)
            {
                return true;
            }
            offset += Align((int)length);
        }
        return false;
    }
}
