using Microsoft.AspNetCore.Authentication;

namespace Transport.UnixNative.Authentication;

/// <summary>Options of the unix peer authentication scheme.</summary>
public sealed class UnixPeerAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>Whether to look up user and group names (getpwuid_r, getgrgid_r) for the name claims.</summary>
    /// <remarks>
    /// Defaults to <see langword="true"/>. The lookups run once per set of peer credentials (connections
    /// from one process share the result for up to a minute), on the first authenticated request,
    /// and may block where NSS asks a network service (LDAP, sssd). Without
    /// them there are no <see cref="UnixClaimTypes.UserName"/> or <see cref="UnixClaimTypes.GroupName"/>
    /// claims, so <c>RequireUnixUser</c> and <c>RequireUnixGroup</c> fail; the id-based policies still work.
    /// </remarks>
    public bool ResolveNames { get; set; } = true;
}
