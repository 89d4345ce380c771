using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative;

/// <summary>Options for the Unix-domain-socket transport that runs on native epoll threads.</summary>
public sealed partial class UnixNativeTransportOptions
{
    /// <summary>The number of epoll threads that perform socket I/O.</summary>
    /// <remarks>
    /// Defaults to half of <see cref="Environment.ProcessorCount"/>, at least 1 and at most 16.
    /// Local IPC shares the machine with its clients; one loop thread per two cores leaves
    /// room for the application and the peer.
    /// </remarks>
    public int IOThreadCount { get; set; } = Math.Clamp(Environment.ProcessorCount / 2, 1, 16);

    /// <summary>The maximum length of the queue of connections the kernel holds before they are accepted.</summary>
    /// <remarks>Defaults to 512.</remarks>
    public int Backlog { get; set; } = 512;

    /// <summary>
    /// The most bytes received from a peer that may wait, not yet examined by the application, in
    /// the connection's input before the transport stops reading from the socket (it reads again
    /// below half). <see langword="null"/> or 0 means unlimited.
    /// </summary>
    /// <remarks>Defaults to 1 MiB.</remarks>
    public long? MaxReadBufferSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// The most bytes written by the application that may wait in the output pipe before its
    /// flushes wait for the socket. <see langword="null"/> or 0 means unlimited. Beyond it the
    /// kernel's send buffer holds more: a stream connection's grows to 512 KiB (SO_SNDBUF, which the
    /// kernel doubles, within <c>net.core.wmem_max</c>) the first time it fills, so a large body does not wait every few flushes;
    /// at most 256 connections hold a grown buffer at once, so peers that stop reading cannot multiply it.
    /// </summary>
    /// <remarks>Defaults to 64 KiB.</remarks>
    public long? MaxWriteBufferSize { get; set; } = 64 * 1024;

    /// <summary>
    /// Runs application code that continues after a read or a flush directly on the I/O thread
    /// instead of dispatching it to the thread pool.
    /// </summary>
    /// <remarks>
    /// Defaults to <see langword="false"/>. Setting it saves a thread hop per read, but
    /// application code that blocks will then stall every connection on that I/O thread.
    /// </remarks>
    public bool UnsafePreferInlineScheduling { get; set; }

    /// <summary>
    /// Sends files (<c>SendFileAsync</c>: static files, <c>Results.File</c>) on HTTP/1.1 stream
    /// connections with sendfile(2), from the page cache into the socket without a copy through
    /// the process. Responses that cannot take it (HTTP/2, chunked or compressed bodies, seqpacket)
    /// copy as usual.
    /// </summary>
    /// <remarks>Defaults to <see langword="true"/>.</remarks>
    public bool UseSendFile { get; set; } = true;

    /// <summary>
    /// The seqpacket receive buffer per I/O thread: as large as any packet a peer can send
    /// (<see cref="Core.Connection.SeqpacketLimits.MaxPacketSize"/>). Tests lower it to reach the
    /// truncation path.
    /// </summary>
    internal int SeqpacketReceiveBufferSize { get; set; } = Core.Connection.SeqpacketLimits.MaxPacketSize;

    /// <summary>Descriptors one receive takes: the kernel's SCM_MAX_FD, so MSG_CTRUNC never happens (tests lower it to see it handled).</summary>
    internal int DescriptorsPerReceive { get; set; } = Interop.ControlMessages.MaxDescriptorsPerMessage;
}
