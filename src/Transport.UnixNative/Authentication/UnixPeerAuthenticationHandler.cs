using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Transport.UnixNative.Authentication;

/// <summary>
/// Authenticates a request by the credentials of the process at the other end of its unix socket
/// (<see cref="IUnixPeerCredentialsFeature"/>). No header or password is involved: the kernel vouches.
/// A request over another kind of connection (TCP) gets no result, so other schemes may decide.
/// </summary>
internal sealed class UnixPeerAuthenticationHandler(IOptionsMonitor<UnixPeerAuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<UnixPeerAuthenticationOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var peer = Context.Features.Get<IUnixPeerCredentialsFeature>();
        if (peer is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        UnixPeerIdentity identity;
        try
        {
            identity = UnixPeerIdentity.For(peer, Options.ResolveNames);
        }
        catch (ObjectDisposedException)
        {
            // The connection closed under the request; nobody will see the response.
            return Task.FromResult(AuthenticateResult.Fail("The unix socket connection is closed."));
        }
        var principal = new ClaimsPrincipal(identity.ToClaimsIdentity(Scheme.Name));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name)));
    }
}
