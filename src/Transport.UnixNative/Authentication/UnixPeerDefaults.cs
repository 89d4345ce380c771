namespace Transport.UnixNative.Authentication;

/// <summary>Names used by the unix peer authentication scheme.</summary>
public static class UnixPeerDefaults
{
    /// <summary>The default scheme name: <c>UnixPeer</c>.</summary>
    public const string AuthenticationScheme = "UnixPeer";

    /// <summary>
    /// The issuer of every claim the handler creates, whatever the scheme is named. The
    /// <c>RequireUnix…</c> policies trust only claims from this issuer, so a claim of the same
    /// type from another scheme (a token, a cookie) cannot satisfy them.
    /// </summary>
    public const string ClaimsIssuer = "Transport.UnixNative";
}

/// <summary>Claim types of a principal authenticated from unix peer credentials.</summary>
public static class UnixClaimTypes
{
    /// <summary>The peer's effective user id, decimal.</summary>
    public const string UserId = "urn:unix:uid";

    /// <summary>The peer's user name, present when the user database has one for its uid.</summary>
    public const string UserName = "urn:unix:user";

    /// <summary>The peer's effective group id, decimal.</summary>
    public const string PrimaryGroupId = "urn:unix:primary-gid";

    /// <summary>One claim per group the peer is in: its effective group and its supplementary groups, decimal.</summary>
    public const string GroupId = "urn:unix:gid";

    /// <summary>One claim per group the peer is in that the group database names.</summary>
    public const string GroupName = "urn:unix:group";

    /// <summary>The peer's process id as of connect; see <see cref="IUnixPeerCredentialsFeature.ProcessId"/> on pid reuse.</summary>
    public const string ProcessId = "urn:unix:pid";
}
