using System.Security.Claims;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Authentication;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.Tests.Authentication;

/// <summary>
/// A request's UnixPeer identity shares its connection's claims yet acts in every way as a
/// ClaimsIdentity of its own: the same answers as a plain one built from the same claims, and
/// changes that stay in the identity that made them.
/// </summary>
public sealed class UnixPeerClaimsIdentityTests : IDisposable
{
    private const string Scheme = UnixPeerDefaults.AuthenticationScheme;

    private readonly DetachedConnections _connections = new();

    public void Dispose() => _connections.Dispose();

    // root, groups 0 and 4: names resolve on any Linux (root, adm may or may not exist; the test compares with itself).
    private UnixConnection Connection(int pid = 1234)
    {
        var connection = _connections.CreateWithoutSocket();
        connection.SetPeerCredentials(new PeerCredentials(pid, 0, 0), [4]);
        return connection;
    }

    [Fact]
    public void ClaimsAreBuiltOncePerPeerCredentials_EachRequestGetsItsOwnIdentity()
    {
        var connection = Connection();
        var first = UnixPeerIdentity.For(connection, resolveNames: true).ToClaimsIdentity(Scheme);
        var second = UnixPeerIdentity.For(connection, resolveNames: true).ToClaimsIdentity(Scheme);
        var sameProcess = UnixPeerIdentity.For(Connection(), resolveNames: true).ToClaimsIdentity(Scheme);
        var otherProcess = UnixPeerIdentity.For(Connection(pid: 1235), resolveNames: true).ToClaimsIdentity(Scheme);

        Assert.NotSame(first, second);
        Assert.NotSame(first, sameProcess);
        Assert.Equal(first.Claims, second.Claims); // the very same Claim objects
        Assert.Equal(first.Claims, sameProcess.Claims); // another connection with identical credentials shares them
        Assert.DoesNotContain(first.Claims, c => otherProcess.Claims.Contains(c));
    }

    [Fact]
    public void AnswersAsAPlainClaimsIdentityWithTheSameClaims()
    {
        var identity = UnixPeerIdentity.For(Connection(), resolveNames: true).ToClaimsIdentity(Scheme);
        var plain = new ClaimsIdentity(identity.Claims, Scheme, ClaimTypes.Name, ClaimTypes.Role);
        identity.AddClaim(new Claim(ClaimTypes.Role, "reader"));
        plain.AddClaim(new Claim(ClaimTypes.Role, "reader"));

        Assert.Equal(Pairs(plain), Pairs(identity));
        Assert.Equal(plain.Name, identity.Name);
        Assert.True(identity.IsAuthenticated);
        Assert.Equal(Scheme, identity.AuthenticationType);
        Assert.Equal("1234", identity.FindFirst(UnixClaimTypes.ProcessId)?.Value);
        Assert.Equal("reader", identity.FindFirst(ClaimTypes.Role)?.Value);
        Assert.Equal("0", identity.FindFirst(c => c.Type == UnixClaimTypes.GroupId)?.Value);
        Assert.Equal(["0", "4"], identity.FindAll(UnixClaimTypes.GroupId).Select(c => c.Value));
        Assert.True(identity.HasClaim(UnixClaimTypes.GroupId, "4"));
        Assert.True(identity.HasClaim(c => c.Type == ClaimTypes.Role));
        Assert.True(new ClaimsPrincipal(identity).IsInRole("reader"));
        Assert.Equal(Pairs(plain), Pairs(identity.Clone()));
        Assert.Equal(Pairs(plain), new ClaimsPrincipal(identity).Clone().Claims.Select(c => (c.Type, c.Value, c.Issuer)));
    }

    [Fact]
    public void RemovingAndAddingClaims_ChangesThisRequestsIdentityOnly()
    {
        var connection = Connection();
        var identity = UnixPeerIdentity.For(connection, resolveNames: true).ToClaimsIdentity(Scheme);
        var before = Pairs(identity);
        identity.AddClaim(new Claim("own", "1"));

        identity.RemoveClaim(identity.FindFirst(ClaimTypes.Name));
        Assert.True(identity.TryRemoveClaim(identity.FindFirst(UnixClaimTypes.ProcessId)));
        Assert.False(identity.TryRemoveClaim(new Claim(UnixClaimTypes.ProcessId, "1234")));
        Assert.Throws<InvalidOperationException>(() => identity.RemoveClaim(new Claim("absent", "x")));

        Assert.Null(identity.FindFirst(ClaimTypes.Name));
        Assert.Null(identity.FindFirst(UnixClaimTypes.ProcessId));
        Assert.Equal(before.Where(p => p.Type is not (ClaimTypes.Name or UnixClaimTypes.ProcessId)).Append(("own", "1", ClaimsIdentity.DefaultIssuer)), Pairs(identity));
        Assert.All(identity.Claims, c => Assert.Same(identity, c.Subject));
        // The next request on the connection sees the claims as they were.
        Assert.Equal(before, Pairs(UnixPeerIdentity.For(connection, resolveNames: true).ToClaimsIdentity(Scheme)));
    }

    [Fact]
    public void SerialisedIdentity_HoldsEveryClaim()
    {
        var identity = UnixPeerIdentity.For(Connection(), resolveNames: true).ToClaimsIdentity(Scheme);
        identity.AddClaim(new Claim("own", "1"));
        var expected = Pairs(identity);

        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            identity.WriteTo(writer);
        }
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer);

        Assert.Equal(expected, Pairs(new ClaimsIdentity(reader)));
    }

    [Fact]
    public void WithoutNameResolution_TheCacheIsNotReusedForResolvedNames()
    {
        var connection = Connection();
        var ids = UnixPeerIdentity.For(connection, resolveNames: false);
        var names = UnixPeerIdentity.For(connection, resolveNames: true);

        Assert.Null(ids.UserName);
        Assert.False(ids.NamesResolved);
        Assert.True(names.NamesResolved);
        Assert.Same(names, UnixPeerIdentity.For(connection, resolveNames: true));
    }

    [Fact]
    public void ConnectionsOfOneClient_KeepOneListOfSupplementaryGroups()
    {
        var first = _connections.CreateWithoutSocket();
        var second = _connections.CreateWithoutSocket();
        first.SetPeerCredentials(new PeerCredentials(4242, 0, 0), [4, 27]);
        second.SetPeerCredentials(new PeerCredentials(4242, 0, 0), [4, 27]);
        IUnixPeerCredentialsFeature a = first, b = second;
        Assert.NotSame(a.GetSupplementaryGroupIds(), b.GetSupplementaryGroupIds());

        UnixPeerIdentity.For(a, resolveNames: false);
        UnixPeerIdentity.For(b, resolveNames: false);

        Assert.Same(a.GetSupplementaryGroupIds(), b.GetSupplementaryGroupIds());
        Assert.Equal([4u, 27u], b.GetSupplementaryGroupIds());
    }

    private static List<(string Type, string Value, string Issuer)> Pairs(ClaimsIdentity identity) => identity.Claims.Select(c => (c.Type, c.Value, c.Issuer)).ToList();
}
