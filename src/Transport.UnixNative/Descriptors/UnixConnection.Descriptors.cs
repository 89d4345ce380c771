using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Internal;

/// <summary>
/// The connection's side of descriptor passing: every receive takes the descriptors that came with its
/// bytes, and a message can go out with descriptors. The receive and send paths call in here only.
/// </summary>
internal sealed partial class UnixConnection
{
    // recvmsg's errno stand-in when descriptors made the receive fail (see _descriptorFailure).
    private const int DescriptorFailure = -1;

    // Byte-stream connections (HTTP): descriptors tagged with the input position they came with.
    private ReceivedDescriptors? _receivedDescriptors;
    private ConnectionAbortedException? _descriptorFailure;

    /// <summary>Makes the descriptor feature (answered from this field, see UnixConnection.Features); constructor only.</summary>
    private void TrackDescriptors() => _receivedDescriptors = new ReceivedDescriptors(_input);

    /// <summary>
    /// One recvmsg into <paramref name="buffer"/> that also takes descriptors. Returns what recvmsg returns;
    /// <paramref name="carriedDescriptors"/>: the read ended at a descriptor boundary (not a sign of a drained socket).
    /// A message connection queues them for its message; a byte stream tags them with their first byte's position.
    /// </summary>
    private nint ReceiveWithDescriptors(Span<byte> buffer, out int flags, out int errno, out bool carriedDescriptors, out bool carriedCredentials)
    {
        var control = _loop.ControlBuffer;
        var n = Message.ReceiveWithControl(_fd.Fd, buffer, control, out var controlLength, out flags, out errno);
        carriedDescriptors = false;
        carriedCredentials = n >= 0 && controlLength > 0 && ControlMessages.Contains(control.AsSpan(0, controlLength), ControlMessages.SCM_CREDENTIALS);
        List<SafeFdHandle>? handles = null;
        if (n >= 0 && controlLength > 0)
        {
            var numbers = new List<int>();
            ControlMessages.ReadRights(control.AsSpan(0, controlLength), numbers);
            if (numbers.Count > 0)
            {
                handles = numbers.ConvertAll(fd => new SafeFdHandle(fd));
                carriedDescriptors = true;
            }
            if ((flags & ControlMessages.MSG_CTRUNC) != 0)
            {
                handles?.ForEach(h => h.Dispose());
                TransportLog.DescriptorsTruncated(_logger, ConnectionId, _loop.DescriptorsPerReceive);
                return FailForDescriptors("More descriptors arrived than a receive takes (MSG_CTRUNC): the kernel dropped some.");
            }
        }
        if (n == 0 && carriedCredentials && _messages is not null && handles is not null)
        {
            _messages.Received.Enqueue(handles); // an empty message (SO_PASSCRED tells it from the end) may carry descriptors
            return n;
        }
        if (n <= 0)
        {
            handles?.ForEach(h => h.Dispose()); // the end, or an empty packet of a byte stream: no byte to tie them to
            return n;
        }
        if (_receivedDescriptors is { } received)
        {
            // A stream read may begin with bytes sent before the descriptors' sendmsg, but it ends within that
            // sendmsg (the kernel stops a read after the descriptors' buffer): its last byte is one they came with.
            // Every byte received goes into the input after this, so what it holds so far counts them.
            var position = _input.Written + n - 1;
            if (handles is not null && !received.Add(position, handles))
            {
                TransportLog.TooManyDescriptors(_logger, ConnectionId, ReceivedDescriptors.MaxQueued);
                return FailForDescriptors($"The peer sent more than {ReceivedDescriptors.MaxQueued} descriptors that no request took.");
            }
        }
        else if (handles is not null)
        {
            _messages!.Received.Enqueue(handles);
        }
        return n;
    }

    private nint FailForDescriptors(string reason)
    {
        _descriptorFailure = new ConnectionAbortedException(reason);
        Abort(_descriptorFailure);
        return DescriptorFailure;
    }

    /// <summary>Sends one message with the descriptors queued for it; -1 with errno on failure (EAGAIN: try again later).</summary>
    private nint SendMessageWithDescriptors(in System.Buffers.ReadOnlySequence<byte> payload, out int errno)
    {
        var pending = _messages!.PeekOutgoing();
        var data = payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray();
        var numbers = new int[pending.Length];
        for (var i = 0; i < numbers.Length; i++)
        {
            numbers[i] = (int)pending[i].DangerousGetHandle();
        }
        nint n;
        try
        {
            n = Message.SendWithDescriptors(_fd, data, numbers, out errno);
        }
        catch (ObjectDisposedException)
        {
            errno = Libc.EPIPE; // closed meanwhile; the connection's close releases the descriptors
            return -1;
        }
        if (n >= 0)
        {
            _messages.CompleteOutgoing(); // the kernel holds its own references now
        }
        return n;
    }

    /// <summary>Closes what nobody will take any more: the connection is closed.</summary>
    private void ReleaseDescriptors()
    {
        _receivedDescriptors?.CloseAll();
        _messages?.ReleaseAll();
    }
}
