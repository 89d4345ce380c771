using System.Globalization;
using Transport.UnixNative.Authentication;

namespace Microsoft.AspNetCore.Authorization;

/// <summary>
/// Policy requirements on the process at the other end of a unix socket, for
/// <c>[Authorize(Policy = …)]</c> and <c>RequireAuthorization(…)</c>. Each adds the
/// <see cref="UnixPeerDefaults.AuthenticationScheme"/> scheme to the policy, so the policy works
/// whatever the default scheme is. A request that is not over a unix socket is challenged (401);
/// a peer that does not match is forbidden (403). Register the scheme with <c>AddUnixPeer()</c>.
/// </summary>
public static class UnixPeerAuthorizationExtensions
{
    /// <summary>Requires the peer's user to be one of <paramref name="userNames"/> (by the user database's name for its uid).</summary>
    /// <param name="builder">The policy builder.</param>
    /// <param name="userNames">Allowed user names, e.g. <c>"root"</c>.</param>
    public static AuthorizationPolicyBuilder RequireUnixUser(this AuthorizationPolicyBuilder builder, params string[] userNames)
        => builder.Require(UnixClaimTypes.UserName, "user", userNames);

    /// <summary>Requires the peer's effective user id to be one of <paramref name="userIds"/>.</summary>
    /// <param name="builder">The policy builder.</param>
    /// <param name="userIds">Allowed uids, e.g. <c>0</c>.</param>
    public static AuthorizationPolicyBuilder RequireUnixUid(this AuthorizationPolicyBuilder builder, params uint[] userIds)
        => builder.Require(UnixClaimTypes.UserId, "uid", Decimal(userIds));

    /// <summary>
    /// Requires the peer to be in one of the groups <paramref name="groupNames"/>: its effective group
    /// (SO_PEERCRED) or a supplementary group of the peer process (SO_PEERGROUPS), the same groups the
    /// kernel checks against a file's group permission.
    /// </summary>
    /// <param name="builder">The policy builder.</param>
    /// <param name="groupNames">Allowed group names.</param>
    public static AuthorizationPolicyBuilder RequireUnixGroup(this AuthorizationPolicyBuilder builder, params string[] groupNames)
        => builder.Require(UnixClaimTypes.GroupName, "group", groupNames);

    /// <summary>Requires the peer to be in one of the groups <paramref name="groupIds"/> (effective or supplementary, as <see cref="RequireUnixGroup"/>).</summary>
    /// <param name="builder">The policy builder.</param>
    /// <param name="groupIds">Allowed gids.</param>
    public static AuthorizationPolicyBuilder RequireUnixGid(this AuthorizationPolicyBuilder builder, params uint[] groupIds)
        => builder.Require(UnixClaimTypes.GroupId, "gid", Decimal(groupIds));

    private static AuthorizationPolicyBuilder Require(this AuthorizationPolicyBuilder builder, string claimType, string description, string[] allowed)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(allowed);
        if (allowed.Length == 0)
        {
            throw new ArgumentException($"Name at least one allowed {description}.", nameof(allowed));
        }
        return builder
            .AddAuthenticationSchemes(UnixPeerDefaults.AuthenticationScheme)
            .AddRequirements(new UnixPeerRequirement(claimType, description, allowed));
    }

    private static string[] Decimal(uint[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Array.ConvertAll(ids, id => id.ToString(CultureInfo.InvariantCulture));
    }
}
