using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Core.Loop;

// Scratch buffers of the receives that run on this loop, and the limits on received descriptors.
// One set per loop rather than per connection: only the loop thread receives, one at a time.
internal sealed partial class EventLoop
{
    /// <summary>A buffer the size of the largest packet a peer can send, for seqpacket receives (loop thread only).</summary>
    public byte[] PacketBuffer => _packetBuffer ??= GC.AllocateUninitializedArray<byte>(_packetBufferSize, pinned: true);

    private readonly int _packetBufferSize;

    /// <summary>
    /// The ancillary-data buffer of every receive on this loop (loop thread only): room for
    /// <see cref="DescriptorsPerReceive"/> descriptors and the credentials SO_PASSCRED adds to packets.
    /// </summary>
    public byte[] ControlBuffer => _controlBuffer ??= GC.AllocateArray<byte>(
        ControlMessages.RightsSpace(DescriptorsPerReceive) + ControlMessages.Space(sizeof(int) * 3), pinned: true);

    public int DescriptorsPerReceive { get; }

    /// <summary>The process-wide budget of held received descriptors (see <see cref="Connection.HeldDescriptors"/>).</summary>
    public int MaxReceivedDescriptors { get; }

    public int MaxReceivedDescriptorsPerConnection { get; }

    /// <summary>What one peer uid may hold of the budget (the option, or half of the budget).</summary>
    public int MaxReceivedDescriptorsPerUser { get; }

    private byte[]? _controlBuffer;

    /// <summary>Scratch for stream receives that may find nothing (loop thread only); what arrives is copied into the pipe.</summary>
    public Memory<byte> StreamBuffer => _streamBuffer ??= GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);

    private byte[]? _streamBuffer;

    private byte[]? _packetBuffer;
}
