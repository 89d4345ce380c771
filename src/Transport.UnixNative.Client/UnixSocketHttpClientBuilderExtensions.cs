using Transport.UnixNative.Client;
using Transport.UnixNative.Client.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Sends an IHttpClientFactory client's requests over unix sockets.</summary>
public static class UnixSocketHttpClientBuilderExtensions
{
    /// <summary>
    /// Sends the client's requests to <paramref name="address"/> and accepts <c>http+unix://</c> URLs.
    /// The primary handler becomes a <see cref="System.Net.Http.SocketsHttpHandler"/> (configure it further with
    /// <c>UseSocketsHttpHandler</c>, but leave its ConnectCallback alone); the factory's handler rotation and
    /// logging keep working.
    /// </summary>
    /// <example><code>services.AddHttpClient("sidecar", c => c.BaseAddress = new("http://localhost")).UseUnixSocket("@sidecar");</code></example>
    /// <param name="builder">The client's builder.</param>
    /// <param name="address">An absolute path or <c>@name</c> for a Linux abstract address.</param>
    /// <param name="configure">Sets further options (socket type, expected server identity, HTTP/2).</param>
    /// <exception cref="ArgumentException">The options name an invalid address or socket type (checked here, not at the first request).</exception>
    public static IHttpClientBuilder UseUnixSocket(this IHttpClientBuilder builder, string address, Action<UnixSocketClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(address);
        var options = new UnixSocketClientOptions { Address = address };
        configure?.Invoke(options);
        return builder.UseUnixSocket(options);
    }

    /// <summary>
    /// Accepts <c>http+unix://</c> URLs on the client, with <paramref name="configure"/> setting the options
    /// (leave <see cref="UnixSocketClientOptions.Address"/> unset to keep plain URLs on TCP).
    /// </summary>
    /// <param name="builder">The client's builder.</param>
    /// <param name="configure">Sets the options.</param>
    /// <exception cref="ArgumentException">The options name an invalid address or socket type.</exception>
    public static IHttpClientBuilder UseUnixSocket(this IHttpClientBuilder builder, Action<UnixSocketClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new UnixSocketClientOptions();
        configure(options);
        return builder.UseUnixSocket(options);
    }

    private static IHttpClientBuilder UseUnixSocket(this IHttpClientBuilder builder, UnixSocketClientOptions options)
    {
        var snapshot = options.Clone();
        // Validate now so a bad address fails at startup rather than at the first request.
        _ = UnixSocketConnectCallback.Create(snapshot);
        // One key for this client's synthetic hosts, shared by the rotated primary handlers and the delegating ones.
        var hosts = new UnixSocketPoolHosts();
        builder.UseSocketsHttpHandler((handler, _) => UnixSocketHttpHandler.ConfigureSocketsHandler(handler, snapshot, hosts));
        builder.AddHttpMessageHandler(() => new UnixSocketHttpHandler(snapshot, hosts));
        return builder;
    }
}
