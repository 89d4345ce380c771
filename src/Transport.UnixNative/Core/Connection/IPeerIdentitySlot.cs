namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// A place on a connection for what an authentication handler derives from the peer's credentials,
/// which are fixed at connect(2): it is computed once per connection, not per request. The connection
/// offers it beside <see cref="IUnixPeerCredentialsFeature"/>; the handler needs nothing else of it.
/// </summary>
internal interface IPeerIdentitySlot
{
    /// <summary>The handler's identity for this connection, or null before the first request.</summary>
    object? Identity { get; set; }

    /// <summary>
    /// Takes <paramref name="groups"/>, equal to this connection's own supplementary groups (the handler's
    /// shared cache matched them), in place of its list: one list for all of a client's connections.
    /// </summary>
    void ShareSupplementaryGroups(IReadOnlyList<uint> groups);
}
