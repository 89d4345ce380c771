using Microsoft.AspNetCore.Authorization;

namespace Transport.UnixNative.Authentication;

/// <summary>Succeeds when the user has a claim of one type, issued by the unix peer handler, with one of the allowed values.</summary>
internal sealed class UnixPeerRequirement(string claimType, string description, string[] allowed)
    : AuthorizationHandler<UnixPeerRequirement>, IAuthorizationRequirement
{
    private readonly HashSet<string> _allowed = new(allowed, StringComparer.Ordinal);

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, UnixPeerRequirement requirement)
    {
        foreach (var claim in context.User.Claims)
        {
            if (claim.Type == claimType && claim.Issuer == UnixPeerDefaults.ClaimsIssuer && _allowed.Contains(claim.Value))
            {
                context.Succeed(requirement);
                break;
            }
        }
        return Task.CompletedTask;
    }

    public override string ToString() => $"{nameof(UnixPeerRequirement)}: unix peer {description} is one of ({string.Join(", ", allowed)})";
}
