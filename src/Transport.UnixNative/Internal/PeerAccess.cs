using System.Collections.Frozen;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Internal;

/// <summary>The transport-level allowlist (<see cref="UnixNativeTransportOptions.AllowedUserIds"/>, <see cref="UnixNativeTransportOptions.AllowedGroupIds"/>), frozen at bind.</summary>
internal sealed class PeerAccess
{
    private readonly FrozenSet<uint>? _userIds;
    private readonly FrozenSet<uint>? _groupIds;

    private PeerAccess(FrozenSet<uint>? userIds, FrozenSet<uint>? groupIds)
    {
        _userIds = userIds;
        _groupIds = groupIds;
    }

    /// <summary>The rule the options describe, or null when every peer is allowed.</summary>
    public static PeerAccess? From(UnixNativeTransportOptions options)
        => options.AllowedUserIds is null && options.AllowedGroupIds is null
            ? null
            : new PeerAccess(options.AllowedUserIds?.ToFrozenSet(), options.AllowedGroupIds?.ToFrozenSet());

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
