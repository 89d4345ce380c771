using System.Net.Sockets;
using System.Runtime.InteropServices;
using Transport.UnixNative.Client.Internal;

namespace Transport.UnixNative.Client;

/// <summary>
/// Whole messages over a <c>SOCK_SEQPACKET</c> unix socket, with descriptors: the client side of a server
/// bound with <c>ListenUnixSeqpacketMessages</c> (or any seqpacket peer). One <see cref="SendAsync"/> is one
/// packet; one <see cref="ReceiveAsync"/> returns one packet whole. Not for concurrent sends or receives.
/// </summary>
public sealed class UnixMessageClient : IDisposable
{
    private readonly bool _ownsSocket;

    /// <summary>Wraps a connected seqpacket socket.</summary>
    /// <param name="socket">A connected <see cref="SocketType.Seqpacket"/> unix socket.</param>
    /// <param name="ownsSocket">Whether disposing the client closes the socket.</param>
    public UnixMessageClient(Socket socket, bool ownsSocket = true)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.SocketType != SocketType.Seqpacket)
        {
            throw new ArgumentException($"The socket is {socket.SocketType}, not Seqpacket.", nameof(socket));
        }
        Socket = socket;
        _ownsSocket = ownsSocket;
    }

    /// <summary>The underlying socket.</summary>
    public Socket Socket { get; }

    /// <summary>Connects to the seqpacket socket at <paramref name="address"/>: an absolute path or <c>@name</c>.</summary>
    /// <exception cref="ArgumentException">The address cannot name a unix socket.</exception>
    /// <exception cref="SocketException">The connect failed.</exception>
    public static async Task<UnixMessageClient> ConnectAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        UnixSocketTarget target;
        try
        {
            target = UnixSocketTarget.Parse(address, isSeqpacket: true);
        }
        catch (UnixSocketAddressException e)
        {
            throw new ArgumentException(e.Message, nameof(address));
        }
        var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(target.EndPoint, cancellationToken).ConfigureAwait(false);
            return new UnixMessageClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="message"/> as one packet, with <paramref name="descriptors"/> attached (the caller keeps its own).</summary>
    /// <exception cref="ArgumentException">The message is empty, or more than 253 descriptors are given (<c>SCM_MAX_FD</c>).</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> message, IReadOnlyList<SafeHandle>? descriptors = null, CancellationToken cancellationToken = default)
    {
        if (message.IsEmpty)
        {
            throw new ArgumentException("An empty message cannot be sent: the peer would read it as the end of the connection.", nameof(message));
        }
        return DescriptorSocket.SendAsync(Socket, message, descriptors ?? [], cancellationToken);
    }

    /// <summary>
    /// The next message, or <see langword="null"/> once the peer has closed the connection. Descriptors that came
    /// with it are added to <paramref name="descriptors"/> (close-on-exec, yours to dispose), or closed when it is null.
    /// </summary>
    public async ValueTask<byte[]?> ReceiveAsync(ICollection<SafeHandle>? descriptors = null, CancellationToken cancellationToken = default)
    {
        var size = await DescriptorSocket.PeekPacketSizeAsync(Socket, cancellationToken).ConfigureAwait(false);
        if (size == 0)
        {
            return null;
        }
        var message = new byte[size];
        var n = await DescriptorSocket.ReceiveAsync(Socket, message, descriptors, cancellationToken).ConfigureAwait(false);
        return n == size ? message : message[..n];
    }

    /// <summary>Closes the socket if the client owns it.</summary>
    public void Dispose()
    {
        if (_ownsSocket)
        {
            Socket.Dispose();
        }
    }
}
