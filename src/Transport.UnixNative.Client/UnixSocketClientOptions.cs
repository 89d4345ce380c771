using System.Net.Sockets;

namespace Transport.UnixNative.Client;

/// <summary>Where and how the client connects over unix sockets.</summary>
public sealed class UnixSocketClientOptions
{
    /// <summary>
    /// The socket that plain <c>http://</c> (and <c>https://</c>) requests connect to, whatever host their URL
    /// names: an absolute path (<c>/run/app/app.sock</c>) or <c>@name</c> for a Linux abstract address.
    /// <c>http+unix://</c> URLs may name this socket only, unless <see cref="AllowOtherSockets"/> is set.
    /// </summary>
    /// <remarks>
    /// Defaults to <see langword="null"/>: plain URLs connect over TCP as usual, so one client serves both.
    /// Paths longer than 107 bytes are refused (ENAMETOOLONG), never truncated.
    /// </remarks>
    public string? Address { get; set; }

    /// <summary>
    /// The socket type of <see cref="Address"/>: <see cref="SocketType.Stream"/> or <see cref="SocketType.Seqpacket"/>.
    /// URLs choose their own: <c>http+unix://</c> is a stream socket, <c>http+unix+seqpacket://</c> a seqpacket socket.
    /// </summary>
    /// <remarks>Defaults to <see cref="SocketType.Stream"/>.</remarks>
    public SocketType SocketType { get; set; } = SocketType.Stream;

    /// <summary>
    /// The user id the server must run as. Checked with <c>SO_PEERCRED</c> right after connecting, before
    /// anything is sent; a mismatch fails the request with an <see cref="HttpRequestException"/>. Most useful
    /// for abstract addresses, which have no file permissions: anyone in the network namespace can bind one.
    /// Applies to unix socket connections only (TCP has no peer credentials).
    /// </summary>
    /// <remarks>Defaults to <see langword="null"/>: any uid.</remarks>
    public uint? ExpectedServerUid { get; set; }

    /// <summary>The group id the server must run as, checked like <see cref="ExpectedServerUid"/>.</summary>
    /// <remarks>Defaults to <see langword="null"/>: any gid.</remarks>
    public uint? ExpectedServerGid { get; set; }

    /// <summary>
    /// Sends requests left at the default version (HTTP/1.1, <see cref="HttpVersionPolicy.RequestVersionOrLower"/>)
    /// as HTTP/2 with prior knowledge (h2c): version 2.0, <see cref="HttpVersionPolicy.RequestVersionExact"/>.
    /// The server's endpoint must speak HTTP/2 only; Kestrel does not offer h2c on an Http1AndHttp2 cleartext endpoint.
    /// </summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public bool Http2PriorKnowledge { get; set; }

    /// <summary>
    /// Lets <c>http+unix://</c> URLs name sockets other than <see cref="Address"/>. Off, a handler created for one
    /// socket talks to that socket only: an absolute URL naming another (say, built from user input on a
    /// <c>BaseAddress</c> and pointing at <c>/var/run/docker.sock</c>) fails with an <see cref="System.Net.Http.HttpRequestException"/>
    /// before anything connects. Without an <see cref="Address"/>, URLs always name their own socket.
    /// </summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public bool AllowOtherSockets { get; set; }

    /// <summary>
    /// Runs unix stream connections on the client's own epoll thread: reads and writes are tried on the socket
    /// first, and one that must wait is resumed on that thread when the socket is ready, together with whatever
    /// runs after it until the next wait (SocketsHttpHandler's parsing, and your code after <c>await</c> unless it
    /// has a synchronization context). That saves a thread-pool hop per read: about twice the requests per
    /// second of a busy sidecar call on one core (docs/benchmarks.md). Unsafe because code that blocks after
    /// an <c>await</c> of a response blocks every such connection in the process; leave it off unless the
    /// code after your awaits is short and never blocks. Seqpacket sockets and requests passing descriptors
    /// are not affected.
    /// </summary>
    /// <remarks>Defaults to <see langword="false"/>: System.Net.Sockets and its thread-pool completions.</remarks>
    public bool UnsafePreferInlineCompletions { get; set; }

    internal UnixSocketClientOptions Clone() => (UnixSocketClientOptions)MemberwiseClone();
}
