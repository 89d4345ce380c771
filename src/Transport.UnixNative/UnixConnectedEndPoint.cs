using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Transport.UnixNative;

/// <summary>
/// An already-connected unix socket (stream or seqpacket) to serve as one connection: one end of a socket
/// pair, or a descriptor a parent process passed down. There is no listener: the endpoint serves that one
/// connection, and is done when it closes. Bind it with <c>ListenConnectedHandle</c>.
/// </summary>
public sealed class UnixConnectedEndPoint : EndPoint
{
    /// <summary>Wraps <paramref name="handle"/>; the transport serves a duplicate, so the caller may dispose its own once bound.</summary>
    /// <param name="handle">A connected <c>AF_UNIX</c> socket of type stream or seqpacket.</param>
    public UnixConnectedEndPoint(SafeHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        Handle = handle;
    }

    /// <summary>The connected socket.</summary>
    public SafeHandle Handle { get; }

    /// <inheritdoc/>
    public override AddressFamily AddressFamily => AddressFamily.Unix;

    /// <summary>Shown as <c>unix-connected:fd&lt;n&gt;</c>.</summary>
    public override string ToString() => $"unix-connected:fd{Handle.DangerousGetHandle()}";
}
