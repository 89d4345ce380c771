using System.Collections.ObjectModel;
using System.Security.Claims;

namespace Transport.UnixNative.Authentication;

/// <summary>
/// One request's identity over the claims its connection built once (<see cref="UnixPeerIdentity"/>).
/// Reading sees the shared claims, then this request's own; <c>AddClaim</c> adds to this request's
/// own; removing a shared claim, or serialising, first copies the shared claims into this identity
/// (copy on write). So a handler or claims transformation that changes its user never changes the
/// next request's, and a request that changes nothing costs one small object instead of a clone of
/// every claim.
/// </summary>
internal sealed class UnixPeerClaimsIdentity : ClaimsIdentity
{
    // Null once copied into the base identity.
    private ReadOnlyCollection<Claim>? _shared;

    public UnixPeerClaimsIdentity(ReadOnlyCollection<Claim> shared, string authenticationType)
        : base(authenticationType, ClaimTypes.Name, ClaimTypes.Role)
    {
        _shared = shared;
    }

    public override IEnumerable<Claim> Claims
    {
        get
        {
            if (_shared is not { } shared)
            {
                return base.Claims;
            }
            var own = base.Claims;
            return own is ICollection<Claim> { Count: 0 } ? shared : shared.Concat(own);
        }
    }

    // Identity.Name and most lookups come here: no enumerator for the shared part.
    public override Claim? FindFirst(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (_shared is { } shared)
        {
            foreach (var claim in shared)
            {
                if (string.Equals(claim.Type, type, StringComparison.OrdinalIgnoreCase))
                {
                    return claim;
                }
            }
        }
        foreach (var claim in base.Claims)
        {
            if (claim is not null && string.Equals(claim.Type, type, StringComparison.OrdinalIgnoreCase))
            {
                return claim;
            }
        }
        return null;
    }

    public override bool TryRemoveClaim(Claim? claim)
    {
        if (claim is not null && _shared is { } shared && shared.IndexOf(claim) is var index and >= 0)
        {
            // The copy holds clones (a claim belongs to one identity): remove the clone of this one.
            return base.TryRemoveClaim(CopyShared()[index]);
        }
        return base.TryRemoveClaim(claim);
    }

    public override void RemoveClaim(Claim? claim)
    {
        if (!TryRemoveClaim(claim))
        {
            base.RemoveClaim(claim); // throws as ClaimsIdentity does for a claim it does not hold
        }
    }

    public override ClaimsIdentity Clone()
    {
        var copy = new ClaimsIdentity(Claims, AuthenticationType, NameClaimType, RoleClaimType)
        {
            Label = Label,
            BootstrapContext = BootstrapContext,
        };
        if (Actor is { } actor)
        {
            copy.Actor = actor.Clone();
        }
        return copy;
    }

    public override void WriteTo(BinaryWriter writer)
    {
        CopyShared();
        base.WriteTo(writer);
    }

    protected override void WriteTo(BinaryWriter writer, byte[]? userData)
    {
        CopyShared();
        base.WriteTo(writer, userData);
    }

    /// <summary>Moves the shared claims into the base identity, in order, before this request's own; returns the base's claims.</summary>
    private List<Claim> CopyShared()
    {
        if (_shared is { } shared)
        {
            _shared = null;
            var own = base.Claims.ToList();
            foreach (var claim in own)
            {
                base.TryRemoveClaim(claim);
            }
            base.AddClaims(shared);
            base.AddClaims(own);
        }
        return base.Claims.ToList();
    }
}
