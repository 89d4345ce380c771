using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// The connection's side of descriptor passing: every receive takes the descriptors that came with its
/// bytes, and a message can go out with descriptors. The receive and send paths call in here only.
/// </summary>
internal sealed partial class UnixConnection
{
    // recvmsg's errno stand-in when descriptors made the receive fail (see _descriptorFailure).
    private const int DescriptorFailure = -1;

    // Byte-stream connections (HTTP) of endpoints that receive descriptors: tagged with the input position they came with.
    private ReceivedDescriptors? _receivedDescriptors;
    private ConnectionAbortedException? _descriptorFailure;

    // Null where the endpoint does not receive descriptors: then no receive offers room for them.
    private HeldDescriptors? _heldDescriptors;

    /// <summary>Makes the connection receive descriptors, counted against the loop's limits; constructor only.</summary>
    private void ReceiveDescriptors()
    {
        _heldDescriptors = new HeldDescriptors(_loop.MaxReceivedDescriptors, _loop.MaxReceivedDescriptorsPerConnection, _loop.MaxReceivedDescriptorsPerUser);
        if (_messages is not null)
        {
            _messages.Held = _heldDescriptors;
        }
        else
        {
            // The descriptor feature is answered from this field (see UnixConnection.Features).
            _receivedDescriptors = new ReceivedDescriptors(_input, _heldDescriptors);
        }
    }

    /// <summary>
    /// One recvmsg into <paramref name="buffer"/> that also takes descriptors where the endpoint receives them. Returns
    /// what recvmsg returns (or -1 with <see cref="DescriptorFailure"/> when descriptors cost the connection);
    /// <paramref name="carriedDescriptors"/>: descriptors were kept with this read. A message connection queues
    /// them for its message; a byte stream tags them with their first byte's position.
    /// </summary>
    private nint ReceiveWithDescriptors(Span<byte> buffer, out int flags, out int errno, out bool carriedDescriptors, out bool carriedCredentials)
    {
        // Room only for what may still be held: the kernel closes whatever else a peer attached and says MSG_CTRUNC.
        // Packet sockets also get SO_PASSCRED's credentials (they come first), which tell an empty packet from the end.
        var held = _heldDescriptors;
        var limit = HeldDescriptors.Limit.PerReceive;
        var room = held is null ? 0 : held.Reserve(_loop.DescriptorsPerReceive, out limit);
        // The kernel fits as many descriptors as whole ints follow the header, padding included: CMSG_LEN, not CMSG_SPACE.
        var controlSize = (_isPacket ? ControlMessages.Space(sizeof(int) * 3) : 0) + (room > 0 ? ControlMessages.Length(room * sizeof(int)) : 0);
        var control = _loop.ControlBuffer.AsSpan(0, controlSize);
        var n = Message.ReceiveWithControl(_fd.Fd, buffer, control, out var controlLength, out flags, out errno);
        carriedDescriptors = false;
        carriedCredentials = n >= 0 && controlLength > 0 && ControlMessages.Contains(control[..controlLength], ControlMessages.SCM_CREDENTIALS);
        List<SafeFdHandle>? handles = null;
        if (n >= 0 && controlLength > 0)
        {
            var numbers = new List<int>();
            ControlMessages.ReadRights(control[..controlLength], numbers);
            if (numbers.Count > 0)
            {
                handles = numbers.ConvertAll(fd => new SafeFdHandle(fd));
                carriedDescriptors = true;
            }
        }
        var installed = handles?.Count ?? 0;
        held?.Release(room - installed); // the room not used; what was installed stays held until taken or closed
        if (held is not null && n >= 0 && (flags & ControlMessages.MSG_CTRUNC) != 0)
        {
            // Where the endpoint does not receive descriptors this is what was meant (the bytes are served as if
            // none came); here the peer sent more than the room, or the kernel could not install them.
            handles?.ForEach(h => h.Dispose());
            held.Release(installed);
            errno = DescriptorFailure;
            return FailForDescriptors(room, installed, limit);
        }
        if (n == 0 && carriedCredentials && _messages is not null && handles is not null)
        {
            _messages.Received.Enqueue(handles); // an empty message (SO_PASSCRED tells it from the end) may carry descriptors
            return n;
        }
        if (n <= 0)
        {
            handles?.ForEach(h => h.Dispose()); // the end, or an empty packet of a byte stream: no byte to tie them to
            held?.Release(installed);
            carriedDescriptors = false;
            return n;
        }
        if (handles is null)
        {
            return n;
        }
        if (_receivedDescriptors is { } received)
        {
            // A stream read may begin with bytes sent before the descriptors' sendmsg, but it ends within that
            // sendmsg (the kernel stops a read after the descriptors' buffer): its last byte is one they came with.
            // Every byte received goes into the input after this, so what it holds so far counts them.
            received.Add(_input.Written + n - 1, handles);
        }
        else
        {
            _messages!.Received.Enqueue(handles);
        }
        return n;
    }

    /// <summary>Logs why descriptors cost the connection (one line, naming the limit), and aborts it.</summary>
    private nint FailForDescriptors(int room, int installed, HeldDescriptors.Limit limit)
    {
        var held = _heldDescriptors!;
        string reason;
        if (room > 0 && installed < room || limit == HeldDescriptors.Limit.ProcessShort)
        {
            // Fewer installed than offered: the kernel could not (EMFILE). Not the peer's excess.
            var openFiles = Interop.ResourceLimit.OpenFilesLimit();
            TransportLog.DescriptorsNotInstalled(_logger, ConnectionId, installed, room, openFiles);
            reason = $"The process is out of descriptors (EMFILE, RLIMIT_NOFILE {openFiles}): the peer's descriptors could not be received.";
        }
        else if (limit == HeldDescriptors.Limit.Connection)
        {
            TransportLog.TooManyDescriptors(_logger, ConnectionId, held.ConnectionCap);
            reason = $"The peer sent more than {held.ConnectionCap} descriptors that no request or message took (MaxReceivedDescriptorsPerConnection).";
        }
        else if (limit == HeldDescriptors.Limit.User)
        {
            var user = held.UserId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown";
            TransportLog.DescriptorUserShareExhausted(_logger, ConnectionId, user, held.UserCap);
            reason = $"User {user} already holds {held.UserCap} received descriptors (MaxReceivedDescriptorsPerUser): the peer's were closed.";
        }
        else if (limit == HeldDescriptors.Limit.Budget)
        {
            TransportLog.DescriptorBudgetExhausted(_logger, ConnectionId, held.Budget);
            reason = $"The process already holds {held.Budget} received descriptors (MaxReceivedDescriptors): the peer's were closed.";
        }
        else
        {
            TransportLog.DescriptorsTruncated(_logger, ConnectionId, room);
            reason = "More descriptors arrived than a receive takes (MSG_CTRUNC): the kernel dropped some.";
        }
        _descriptorFailure = new ConnectionAbortedException(reason);
        Abort(_descriptorFailure);
        return -1;
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
        _receivedDescriptors?.CloseAll(); // both give the closed ones back to the budget
        _messages?.ReleaseAll();
        _heldDescriptors?.Detach(); // and the user's entry goes with its last connection
    }
}
