using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Transport.UnixNative;
using Transport.UnixNative.Core.Listener;
using Transport.UnixNative.Restart;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Endpoints that only the native unix socket transport serves well.</summary>
public static class KestrelServerOptionsUnixExtensions
{
    /// <summary>
    /// Listens on a Linux abstract unix socket address. Abstract sockets have no file (nothing to
    /// clean up) and no permissions: anyone in the same network namespace can connect.
    /// </summary>
    /// <param name="options">Kestrel's options.</param>
    /// <param name="name">The name, without the leading <c>@</c> or NUL (a leading <c>@</c> is accepted and dropped).</param>
    /// <param name="configure">Configures the endpoint (protocols, connection middleware).</param>
    public static void ListenUnixAbstract(this KestrelServerOptions options, string name, Action<ListenOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var bare = name[0] is '@' or '\0' ? name[1..] : name;
        var address = UnixSocketAddress.Parse("@" + bare, isSeqpacket: false);
        options.Listen(address.ToEndPoint(), configure ?? (static _ => { }));
    }

    /// <summary>
    /// Listens on a <c>SOCK_SEQPACKET</c> unix socket: an absolute path or <c>@name</c> for an abstract address.
    /// HTTP runs over it as a byte stream; other protocols can keep message boundaries with
    /// a message feature.
    /// </summary>
    /// <param name="options">Kestrel's options.</param>
    /// <param name="address">An absolute path or <c>@name</c>.</param>
    /// <param name="configure">Configures the endpoint (protocols, connection middleware).</param>
    public static void ListenUnixSeqpacket(this KestrelServerOptions options, string address, Action<ListenOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(address);
        options.Listen(UnixSocketAddress.Parse(address, isSeqpacket: true).ToEndPoint(), configure ?? (static _ => { }));
    }

    /// <summary>
    /// Listens on a <c>SOCK_SEQPACKET</c> unix socket whose connections keep message boundaries:
    /// a connection handler receives and sends whole messages through <see cref="IUnixMessageFeature"/>.
    /// </summary>
    /// <param name="options">Kestrel's options.</param>
    /// <param name="address">An absolute path or <c>@name</c>.</param>
    /// <param name="configure">Configures the endpoint, typically <c>l =&gt; l.UseConnectionHandler&lt;MyHandler&gt;()</c>.</param>
    public static void ListenUnixSeqpacketMessages(this KestrelServerOptions options, string address, Action<ListenOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(address);
        ArgumentNullException.ThrowIfNull(configure);
        var endPoint = UnixSocketAddress.Parse(address, isSeqpacket: true) with { PreserveMessages = true };
        options.Listen(endPoint.ToEndPoint(), configure);
    }

    /// <summary>
    /// Listens on the socket systemd passed with fd name <paramref name="fdName"/>
    /// (<c>FileDescriptorName=</c> in the .socket unit, <c>--fdname</c> of systemd-socket-activate);
    /// the URL form is <c>http://unix-fd:NAME</c>. Startup fails naming the available fd names if
    /// there is no such socket.
    /// </summary>
    /// <param name="options">Kestrel's options.</param>
    /// <param name="fdName">The fd name.</param>
    /// <param name="configure">Configures the endpoint (protocols, connection middleware).</param>
    public static void ListenUnixActivated(this KestrelServerOptions options, string fdName, Action<ListenOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(fdName);
        options.Listen(ActivatedEndPoint.For(fdName), configure ?? (static _ => { }));
    }

    /// <summary>
    /// Serves one already-connected unix socket (stream or seqpacket): one end of a socket pair, or a
    /// descriptor inherited from a parent process. No socket file, no name, no accept: the endpoint
    /// serves that connection and is done when it closes. The transport works on a close-on-exec
    /// duplicate, so <paramref name="handle"/> stays yours.
    /// </summary>
    /// <param name="options">Kestrel's options.</param>
    /// <param name="handle">A connected <c>AF_UNIX</c> socket.</param>
    /// <param name="configure">Configures the endpoint (protocols, connection middleware).</param>
    public static void ListenConnectedHandle(this KestrelServerOptions options, System.Runtime.InteropServices.SafeHandle handle, Action<ListenOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handle);
        options.Listen(new UnixConnectedEndPoint(handle), configure ?? (static _ => { }));
    }
}
