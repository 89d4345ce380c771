using System.Globalization;
using System.Security.Claims;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Authentication;

/// <summary>
/// What the claims are made of, resolved once per connection: credentials, groups and names.
/// Immutable, so concurrent HTTP/2 streams share it; each request gets its own ClaimsPrincipal.
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

    public static UnixPeerIdentity For(IUnixPeerCredentialsFeature peer, bool resolveNames)
    {
        if (!resolveNames)
        {
            return Resolve(peer, resolveNames: false);
        }
        // Cache on the transport's feature object: one set of NSS lookups per connection.
        if (peer is Internal.UnixPeerCredentialsFeature transportFeature)
        {
            if (Volatile.Read(ref transportFeature.IdentityCache) is UnixPeerIdentity cached)
            {
                return cached;
            }
            var resolved = Resolve(peer, resolveNames: true);
            Interlocked.CompareExchange(ref transportFeature.IdentityCache, resolved, null);
            return resolved;
        }
        return Resolve(peer, resolveNames: true);
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
        return new UnixPeerIdentity(peer.ProcessId, peer.UserId, userName, peer.GroupId, groups.ToArray());
    }

    public ClaimsIdentity ToClaimsIdentity(string authenticationType)
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
        return new ClaimsIdentity(claims, authenticationType, ClaimTypes.Name, ClaimTypes.Role);
    }
}
