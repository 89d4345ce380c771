using Microsoft.Extensions.Logging;

namespace Transport.UnixNative.Core.Diagnostics;

// Event ids 40-49: who may connect (peer credentials, allowlist, socket file permissions).
internal static partial class TransportLog
{
    [LoggerMessage(40, LogLevel.Warning, "Refused a connection on '{Address}' from pid {ProcessId} (uid {UserId}, gid {GroupId}): not in AllowedUserIds or AllowedGroupIds; add the uid to AllowedUserIds (or one of its groups to AllowedGroupIds) to admit it. It was closed before anything was read; further refusals of this uid here are not logged.", EventName = "PeerRefused")]
    public static partial void PeerRefused(ILogger logger, string address, int processId, uint userId, uint groupId);

    [LoggerMessage(41, LogLevel.Error, "Cannot read the peer credentials of a connection on '{Address}'.", EventName = "PeerCredentialsUnavailable")]
    public static partial void PeerCredentialsUnavailable(ILogger logger, string address, Exception exception);

    [LoggerMessage(42, LogLevel.Debug, "Unix socket file '{Path}': mode {Mode}, owner uid {UserId}, group gid {GroupId}.", EventName = "SocketFilePermissionsSet")]
    public static partial void SocketFilePermissionsSet(ILogger logger, string path, string mode, uint userId, uint groupId);

    [LoggerMessage(43, LogLevel.Warning, "SocketFileMode, SocketFileGroup and SocketFileOwner do not apply to abstract unix socket '{Address}': it has no file. Use AllowedUserIds or AllowedGroupIds to restrict who connects.", EventName = "SocketFileOptionsIgnored")]
    public static partial void SocketFileOptionsIgnored(ILogger logger, string address);

    [LoggerMessage(44, LogLevel.Warning, "Refused a connection on abstract address '{Address}' from pid {ProcessId} (uid {UserId}, gid {GroupId}): an abstract address has no file permissions, so by default it admits only this server's uid ({OwnUserId}) and root. To admit it, set AllowedUserIds (listing this uid and the server's own: an allowlist replaces the default) or AllowedGroupIds, or set AllowAnyUserOnAbstractAddresses to admit every uid. It was closed before anything was read; further refusals of this uid here are not logged.", EventName = "PeerRefusedOnAbstractAddress")]
    public static partial void PeerRefusedOnAbstractAddress(ILogger logger, string address, int processId, uint userId, uint groupId, uint ownUserId);

    [LoggerMessage(45, LogLevel.Warning, "Refused connections on '{Address}' came from so many different uids that further ones are only counted (metric), not logged.", EventName = "PeerRefusalsNoLongerLogged")]
    public static partial void PeerRefusalsNoLongerLogged(ILogger logger, string address);
}
