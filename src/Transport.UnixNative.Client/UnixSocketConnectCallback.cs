using System.Net.Sockets;
using Transport.UnixNative.Client.Internal;

namespace Transport.UnixNative.Client;

/// <summary>
/// ConnectCallbacks for any <see cref="SocketsHttpHandler"/>, so HttpClient keeps everything that handler
/// gives (pooling, timeouts, HTTP/2, decompression) while its connections go to a unix socket.
/// </summary>
/// <example>
/// <code>
/// var handler = new SocketsHttpHandler
/// {
///     ConnectCallback = UnixSocketConnectCallback.Create("/run/app/app.sock"),
///     UseProxy = false,
/// };
/// var http = new HttpClient(handler) { BaseAddress = new("http://localhost") };
/// </code>
/// </example>
/// <remarks>
/// The returned stream owns its socket, and a failed or cancelled connect closes it. A full accept queue
/// (EAGAIN) is retried until <see cref="SocketsHttpHandler.ConnectTimeout"/> or cancellation. Failures
/// throw an <see cref="HttpRequestException"/> naming the socket and the errno; SocketsHttpHandler wraps it
/// once more. <see cref="UnixSocketHttpHandler"/> does all of this plus <c>http+unix://</c> URLs.
/// Set <see cref="SocketsHttpHandler.UseProxy"/> to <see langword="false"/>: a proxy from the environment
/// would otherwise be asked to reach <c>localhost</c>.
/// </remarks>
public static class UnixSocketConnectCallback
{
    /// <summary>A ConnectCallback that connects every connection to <paramref name="address"/>.</summary>
    /// <param name="address">An absolute path or <c>@name</c> for a Linux abstract address.</param>
    /// <param name="socketType"><see cref="SocketType.Stream"/> or <see cref="SocketType.Seqpacket"/>.</param>
    /// <exception cref="ArgumentException">The address cannot name a unix socket (relative, empty, or longer than 107 bytes).</exception>
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> Create(string address, SocketType socketType = SocketType.Stream)
    {
        ArgumentNullException.ThrowIfNull(address);
        return Create(new UnixSocketClientOptions { Address = address, SocketType = socketType });
    }

    /// <summary>
    /// A ConnectCallback for <paramref name="options"/>: connections for <see cref="UnixSocketClientOptions.Address"/>
    /// (or, with <see cref="UnixSocketHttpHandler"/> in front, the socket an <c>http+unix://</c> URL names);
    /// without an address, other hosts connect over TCP.
    /// </summary>
    /// <param name="options">Read once; later changes have no effect.</param>
    /// <exception cref="ArgumentException">The options name an invalid address or socket type.</exception>
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> Create(UnixSocketClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new UnixSocketConnector(options.Clone(), fallback: null).ConnectAsync;
    }
}
