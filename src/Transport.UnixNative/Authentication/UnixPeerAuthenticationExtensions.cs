using Microsoft.AspNetCore.Authentication;
using Transport.UnixNative.Authentication;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the unix peer authentication scheme.</summary>
public static class UnixPeerAuthenticationExtensions
{
    /// <summary>
    /// Adds the <see cref="UnixPeerDefaults.AuthenticationScheme"/> scheme: a request over a unix socket
    /// served by Transport.UnixNative is authenticated as the peer process's user, with uid, gid, groups
    /// and pid as claims (<see cref="UnixClaimTypes"/>).
    /// </summary>
    /// <param name="builder">The authentication builder.</param>
    public static AuthenticationBuilder AddUnixPeer(this AuthenticationBuilder builder)
        => builder.AddUnixPeer(UnixPeerDefaults.AuthenticationScheme, null);

    /// <inheritdoc cref="AddUnixPeer(AuthenticationBuilder)"/>
    /// <param name="builder">The authentication builder.</param>
    /// <param name="configureOptions">Configures the scheme's options.</param>
    public static AuthenticationBuilder AddUnixPeer(this AuthenticationBuilder builder, Action<UnixPeerAuthenticationOptions>? configureOptions)
        => builder.AddUnixPeer(UnixPeerDefaults.AuthenticationScheme, configureOptions);

    /// <inheritdoc cref="AddUnixPeer(AuthenticationBuilder)"/>
    /// <param name="builder">The authentication builder.</param>
    /// <param name="authenticationScheme">The scheme name. The <c>RequireUnix…</c> policy helpers name <see cref="UnixPeerDefaults.AuthenticationScheme"/>; with another name, add it to the policy yourself.</param>
    /// <param name="configureOptions">Configures the scheme's options.</param>
    public static AuthenticationBuilder AddUnixPeer(this AuthenticationBuilder builder, string authenticationScheme, Action<UnixPeerAuthenticationOptions>? configureOptions)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(authenticationScheme);
        return builder.AddScheme<UnixPeerAuthenticationOptions, UnixPeerAuthenticationHandler>(authenticationScheme, "Unix peer credentials", configureOptions);
    }
}
