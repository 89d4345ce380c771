using System.Collections.Frozen;
using System.Net;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Access;

/// <summary>
/// Who may connect to one listener, frozen at bind: the allowlist (<see cref="UnixNativeTransportOptions.AllowedUserIds"/>,
/// <see cref="UnixNativeTransportOptions.AllowedGroupIds"/>) when one is set, else, on an abstract address (no file, no
/// permissions), this process's uid and root. Also remembers which uids were refused, so each is logged once.
/// </summary>
internal sealed class PeerAccess : IPeerAdmission
{
    // Distinct uids whose refusal is logged; past this, refusals are only counted (a user namespace can present many uids).
    private const int MaxLoggedUserIds = 1024;

    private readonly FrozenSet<uint>? _userIds;
    private readonly FrozenSet<uint>? _groupIds;
    private readonly HashSet<uint> _loggedUserIds = [];

    private PeerAccess(FrozenSet<uint>? userIds, FrozenSet<uint>? groupIds, bool isAbstractDefault)
    {
        _userIds = userIds;
        _groupIds = groupIds;
        IsAbstractDefault = isAbstractDefault;
    }

    /// <summary>The default rule of an abstract address (own uid and root), rather than a configured allowlist.</summary>
    public bool IsAbstractDefault { get; }

    /// <summary>
    /// The rule for a listener on <paramref name="address"/>, or null when every peer is allowed. An unknown address
    /// (an inherited socket whose name cannot be read) gets the abstract default: it might have no file guarding it.
    /// </summary>
    public static PeerAccess? From(UnixNativeTransportOptions options, UnixSocketAddress? address)
    {
        if (options.AllowedUserIds is not null || options.AllowedGroupIds is not null)
        {
            return new PeerAccess(options.AllowedUserIds?.ToFrozenSet(), options.AllowedGroupIds?.ToFrozenSet(), isAbstractDefault: false);
        }
        if ((address is null || address.IsAbstract) && !options.AllowAnyUserOnAbstractAddresses)
        {
            var own = Users.geteuid();
            return new PeerAccess(new[] { own, 0u }.ToFrozenSet(), null, isAbstractDefault: true);
        }
        return null;
    }

    /// <summary>The rule for an already-connected socket (no address to guard): the allowlist only.</summary>
    public static PeerAccess? ForConnected(UnixNativeTransportOptions options)
        => options.AllowedUserIds is null && options.AllowedGroupIds is null
            ? null
            : new PeerAccess(options.AllowedUserIds?.ToFrozenSet(), options.AllowedGroupIds?.ToFrozenSet(), isAbstractDefault: false);

    /// <summary>True the first time <paramref name="userId"/> is refused here (and while fewer than the cap were logged).</summary>
    public bool FirstRefusalOf(uint userId, out bool lastLogged)
    {
        lock (_loggedUserIds)
        {
            lastLogged = false;
            if (_loggedUserIds.Count >= MaxLoggedUserIds || !_loggedUserIds.Add(userId))
            {
                return false;
            }
            lastLogged = _loggedUserIds.Count == MaxLoggedUserIds;
            return true;
        }
    }

    public bool Admits(int fd, PeerCredentials peer, ILogger logger, EndPoint listener, out uint[]? groups)
    {
        if (Allows(fd, peer, out groups))
        {
            return true;
        }
        // Once per uid and listener: a peer that reconnects in a loop must not flood the log.
        if (FirstRefusalOf(peer.UserId, out var lastLogged))
        {
            var address = listener.ToString() ?? "";
            if (IsAbstractDefault)
            {
                TransportLog.PeerRefusedOnAbstractAddress(logger, address, peer.ProcessId, peer.UserId, peer.GroupId, Users.geteuid());
            }
            else
            {
                TransportLog.PeerRefused(logger, address, peer.ProcessId, peer.UserId, peer.GroupId);
            }
            if (lastLogged)
            {
                TransportLog.PeerRefusalsNoLongerLogged(logger, address);
            }
        }
        return false;
    }

    /// <summary>Whether <paramref name="peer"/> may connect; <paramref name="groups"/> returns SO_PEERGROUPS if it had to be read.</summary>
    public bool Allows(int fd, PeerCredentials peer, out uint[]? groups)
    {
        groups = null;
        if (_userIds is not null && _userIds.Contains(peer.UserId))
        {
            return true;
        }
        if (_groupIds is null)
        {
            return false;
        }
        if (_groupIds.Contains(peer.GroupId))
        {
            return true;
        }
        // Supplementary groups cost a syscall: read them only when the primary group did not decide.
        if (Interop.Socket.GetPeerGroups(fd, out var supplementary) != 0)
        {
            return false;
        }
        groups = supplementary;
        foreach (var gid in supplementary)
        {
            if (_groupIds.Contains(gid))
            {
                return true;
            }
        }
        return false;
    }
}
