using System.Collections.ObjectModel;
using System.Globalization;
using System.Security.Claims;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.Authentication;

/// <summary>
/// What the claims are made of, resolved once per set of peer credentials: credentials, groups and
/// names, and the claims themselves. Immutable, so concurrent HTTP/2 streams and every connection
/// with the same credentials share it (<see cref="UnixPeerIdentityCache"/>); each request gets its
/// own ClaimsPrincipal and ClaimsIdentity over the shared claims.
/// </summary>
internal sealed class UnixPeerIdentity
{
    private UnixPeerIdentity(int processId, uint userId, string? userName, uint groupId, (uint Id, string? Name)[] groups)
    {
        ProcessId = processId;
        UserId = userId;
        UserName = userName;
        GroupId = groupId;
        Groups = groups;
    }

    public int ProcessId { get; }
    public uint UserId { get; }
    public string? UserName { get; }
    public uint GroupId { get; }
    public (uint Id, string? Name)[] Groups { get; }

    public bool NamesResolved { get; private init; }

    /// <summary>The peer's supplementary group ids as the first connection with these credentials read them.</summary>
    public IReadOnlyList<uint> SupplementaryGroupIds { get; private init; } = [];

    public static UnixPeerIdentity For(IUnixPeerCredentialsFeature peer, bool resolveNames)
    {
        // Credentials are fixed at connect(): the connection keeps the identity it got, and connections
        // with identical credentials (one client process's pool) get the same one from the shared cache.
        if (peer is IPeerIdentitySlot slot)
        {
            if (slot.Identity is UnixPeerIdentity cached && cached.NamesResolved == resolveNames)
            {
                return cached;
            }
            var shared = UnixPeerIdentityCache.Shared.GetOrResolve(peer.ProcessId, peer.UserId, peer.GroupId, peer.GetSupplementaryGroupIds(), resolveNames,
                () => Resolve(peer, resolveNames));
            slot.Identity = shared;
            // The cache matched the groups too: every connection of one client keeps one list, not a copy each.
            slot.ShareSupplementaryGroups(shared.SupplementaryGroupIds);
            return shared;
        }
        return Resolve(peer, resolveNames);
    }

    private static UnixPeerIdentity Resolve(IUnixPeerCredentialsFeature peer, bool resolveNames)
    {
        var supplementary = peer.GetSupplementaryGroupIds();
        var groups = new List<(uint, string?)>(supplementary.Count + 1);
        foreach (var gid in supplementary.Prepend(peer.GroupId).Distinct())
        {
            string? name = null;
            if (resolveNames)
            {
                Users.TryGetGroupName(gid, out name);
            }
            groups.Add((gid, name));
        }
        string? userName = null;
        if (resolveNames)
        {
            Users.TryGetUserName(peer.UserId, out userName);
        }
        return new UnixPeerIdentity(peer.ProcessId, peer.UserId, userName, peer.GroupId, groups.ToArray())
        {
            NamesResolved = resolveNames,
            SupplementaryGroupIds = supplementary,
        };
    }

    // The claims last built, with the authentication type (scheme name) they were built for: almost always the only one.
    private SharedClaims? _claims;

    private sealed record SharedClaims(string AuthenticationType, ReadOnlyCollection<Claim> Claims);

    /// <summary>
    /// A fresh identity for one request. The claims are built once per identity and shared by
    /// the requests of every connection that has it (a read-only list, owned by an identity nobody else sees); what a request adds
    /// or removes stays in its own identity (<see cref="UnixPeerClaimsIdentity"/>).
    /// </summary>
    public ClaimsIdentity ToClaimsIdentity(string authenticationType)
    {
        var claims = Volatile.Read(ref _claims);
        if (claims is null || !string.Equals(claims.AuthenticationType, authenticationType, StringComparison.Ordinal))
        {
            var owner = new ClaimsIdentity(BuildClaims(), authenticationType, ClaimTypes.Name, ClaimTypes.Role);
            claims = new SharedClaims(authenticationType, owner.Claims.ToList().AsReadOnly());
            Volatile.Write(ref _claims, claims);
        }
        return new UnixPeerClaimsIdentity(claims.Claims, authenticationType);
    }

    private List<Claim> BuildClaims()
    {
        const string issuer = UnixPeerDefaults.ClaimsIssuer;
        var uid = UserId.ToString(CultureInfo.InvariantCulture);
        var claims = new List<Claim>(6 + 2 * Groups.Length)
        {
            new(ClaimTypes.NameIdentifier, uid, ClaimValueTypes.UInteger32, issuer),
            // Name falls back to the uid so Identity.Name is never null for a unix peer.
            new(ClaimTypes.Name, UserName ?? uid, ClaimValueTypes.String, issuer),
            new(UnixClaimTypes.UserId, uid, ClaimValueTypes.UInteger32, issuer),
            new(UnixClaimTypes.PrimaryGroupId, GroupId.ToString(CultureInfo.InvariantCulture), ClaimValueTypes.UInteger32, issuer),
            new(UnixClaimTypes.ProcessId, ProcessId.ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer32, issuer),
        };
        if (UserName is not null)
        {
            claims.Add(new(UnixClaimTypes.UserName, UserName, ClaimValueTypes.String, issuer));
        }
        foreach (var (id, name) in Groups)
        {
            claims.Add(new(UnixClaimTypes.GroupId, id.ToString(CultureInfo.InvariantCulture), ClaimValueTypes.UInteger32, issuer));
            if (name is not null)
            {
                claims.Add(new(UnixClaimTypes.GroupName, name, ClaimValueTypes.String, issuer));
            }
        }
        return claims;
    }
}
