namespace Transport.UnixNative.Interop;

/// <summary>Received descriptors as owned handles (the SCM_RIGHTS calls themselves: src/Shared/Message.Descriptors.cs).</summary>
internal static partial class Message
{
    /// <inheritdoc cref="ReceiveDescriptors"/>
    internal static nint ReceiveWithDescriptors(SafeFdHandle socket, Span<byte> buffer, int maxDescriptors, List<SafeFdHandle> received,
        out int flags, out int errno)
    {
        var numbers = new List<int>();
        var n = ReceiveDescriptors(socket, buffer, maxDescriptors, numbers, out flags, out errno);
        foreach (var fd in numbers)
        {
            received.Add(new SafeFdHandle(fd));
        }
        return n;
    }
}
