using Microsoft.Extensions.Logging;

namespace Transport.UnixNative.Core.Diagnostics;

/// <summary>
/// Every log line of the transport, with fixed event ids: the one registry (docs/logging.md lists them).
/// An id, once shipped, keeps its meaning; a retired id is never reused.
/// </summary>
/// <remarks>
/// Ranges:
///   1–39     connections and I/O threads
///   40–59    access: peer admission, socket-file permissions
///   60–79    accepting (setup failures, running out of descriptors)
///   80–99    restarts: socket activation, hand-over, systemd's fd store
///   100–119  descriptors received with SCM_RIGHTS
///   120–139  sendfile
///   140–159  platform
/// Retired: 9 (AcceptError, never logged: a failed accept is retried, counted by unixnative.accept_errors, or reported as 60/61).
/// </remarks>
internal static partial class TransportLog
{
    public const string CategoryName = "Transport.UnixNative";

    // 1–39: Connections and I/O threads
    [LoggerMessage(1, LogLevel.Debug, "Connection id \"{ConnectionId}\" closed.", EventName = "ConnectionClosed")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId);

    [LoggerMessage(2, LogLevel.Debug, "Connection id \"{ConnectionId}\" reset by the peer.", EventName = "ConnectionReset")]
    public static partial void ConnectionReset(ILogger logger, string connectionId);

    [LoggerMessage(3, LogLevel.Debug, "Connection id \"{ConnectionId}\" aborted: {Reason}", EventName = "ConnectionAborted")]
    public static partial void ConnectionAborted(ILogger logger, string connectionId, string? reason);

    [LoggerMessage(4, LogLevel.Warning, "Connection id \"{ConnectionId}\" failed.", EventName = "ConnectionError")]
    public static partial void ConnectionError(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(5, LogLevel.Error, "Connection id \"{ConnectionId}\": a packet larger than {BufferSize} bytes arrived; aborting the connection instead of truncating it.", EventName = "PacketTruncated")]
    public static partial void PacketTruncated(ILogger logger, string connectionId, int bufferSize);

    [LoggerMessage(6, LogLevel.Information, "Removed stale unix socket file '{Path}' (nothing was listening on it).", EventName = "StaleSocketRemoved")]
    public static partial void StaleSocketRemoved(ILogger logger, string path);

    [LoggerMessage(7, LogLevel.Debug, "Removed unix socket file '{Path}'.", EventName = "SocketFileRemoved")]
    public static partial void SocketFileRemoved(ILogger logger, string path);

    [LoggerMessage(8, LogLevel.Debug, "Left unix socket file '{Path}' in place: it is no longer the socket this listener created.", EventName = "SocketFileReplaced")]
    public static partial void SocketFileReplaced(ILogger logger, string path);

    [LoggerMessage(10, LogLevel.Error, "Unhandled exception on I/O thread {LoopIndex}; the loop continues.", EventName = "LoopError")]
    public static partial void LoopError(ILogger logger, int loopIndex, Exception exception);

    [LoggerMessage(11, LogLevel.Debug, "Started {Count} I/O thread(s).", EventName = "LoopsStarted")]
    public static partial void LoopsStarted(ILogger logger, int count);

    // 40–59: Access: peer admission and socket-file permissions
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

    // 60–79: Accepting
    [LoggerMessage(60, LogLevel.Warning, "Connection on '{Address}' closed while being set up; the listener carries on.", EventName = "ConnectionSetupFailed")]
    public static partial void ConnectionSetupFailed(ILogger logger, string address, Exception exception);

    [LoggerMessage(61, LogLevel.Warning, "Out of descriptors accepting on '{Address}' ({Reason}): new clients wait in the kernel backlog; retrying every {RetryMilliseconds} ms.", EventName = "AcceptStarved")]
    public static partial void AcceptStarved(ILogger logger, string address, string reason, int retryMilliseconds);

    [LoggerMessage(62, LogLevel.Information, "Accepting on '{Address}' again after {Seconds:F1} s out of descriptors ({Retries} retries).", EventName = "AcceptResumed")]
    public static partial void AcceptResumed(ILogger logger, string address, double seconds, long retries);

    // 80–99: Restarts: socket activation and hand-over
    [LoggerMessage(80, LogLevel.Information, "Socket activation: serving '{Address}' (fd {Fd}, fd name '{FdName}').", EventName = "ActivatedSocket")]
    public static partial void ActivatedSocket(ILogger logger, string address, int fd, string fdName);

    [LoggerMessage(81, LogLevel.Warning, "Socket activation: fd {Fd} (fd name '{FdName}') is not a listening unix stream or seqpacket socket; left alone.", EventName = "ActivatedSocketIgnored")]
    public static partial void ActivatedSocketIgnored(ILogger logger, int fd, string fdName);

    [LoggerMessage(82, LogLevel.Information, "Hand-over: took '{Address}' from the predecessor (pid {Pid}) at '{ControlPath}'.", EventName = "HandoverReceived")]
    public static partial void HandoverReceived(ILogger logger, string address, int pid, string controlPath);

    [LoggerMessage(83, LogLevel.Information, "Hand-over: no predecessor at '{ControlPath}' ({Reason}); binding normally.", EventName = "HandoverNoPredecessor")]
    public static partial void HandoverNoPredecessor(ILogger logger, string controlPath, string reason);

    [LoggerMessage(84, LogLevel.Information, "Hand-over: listening for a successor on '{ControlPath}'.", EventName = "HandoverListening")]
    public static partial void HandoverListening(ILogger logger, string controlPath);

    [LoggerMessage(85, LogLevel.Information, "Hand-over: gave {Count} socket(s) to pid {Pid}; it is serving them, so this process stops accepting and drains.", EventName = "HandoverCompleted")]
    public static partial void HandoverCompleted(ILogger logger, int count, int pid);

    [LoggerMessage(86, LogLevel.Warning, "Hand-over: refused pid {Pid} (uid {Uid}): only uid {OwnUid} may take the sockets. Further refusals of this uid are not logged.", EventName = "HandoverRefused")]
    public static partial void HandoverRefused(ILogger logger, int pid, uint uid, uint ownUid);

    [LoggerMessage(87, LogLevel.Warning, "Hand-over: the successor (pid {Pid}) left before it was ready ({Reason}); still serving.", EventName = "HandoverAbandoned")]
    public static partial void HandoverAbandoned(ILogger logger, int pid, string reason);

    [LoggerMessage(88, LogLevel.Error, "Hand-over: control socket '{ControlPath}' failed; hand-over is off for this process.", EventName = "HandoverFailed")]
    public static partial void HandoverFailed(ILogger logger, string controlPath, Exception exception);

    [LoggerMessage(89, LogLevel.Information, "Hand-over: the predecessor (pid {Pid}) stopped accepting; this process serves alone.", EventName = "HandoverTakenOver")]
    public static partial void HandoverTakenOver(ILogger logger, int pid);

    [LoggerMessage(90, LogLevel.Information, "Stored '{Address}' in systemd's file descriptor store (FDNAME={FdName}).", EventName = "FdStored")]
    public static partial void FdStored(ILogger logger, string address, string fdName);

    [LoggerMessage(91, LogLevel.Warning, "Could not store '{Address}' in systemd's file descriptor store through '{NotifySocket}'.", EventName = "FdStoreFailed")]
    public static partial void FdStoreFailed(ILogger logger, string notifySocket, string address, Exception exception);

    [LoggerMessage(92, LogLevel.Warning, "Hand-over: took '{Address}' but no endpoint serves it; closed it (clients get ECONNREFUSED, not a queue nobody accepts from).", EventName = "HandoverSocketUnserved")]
    public static partial void HandoverSocketUnserved(ILogger logger, string address);

    [LoggerMessage(93, LogLevel.Warning, "Socket activation: no endpoint serves '{Address}' (fd name '{FdName}'); its clients wait in its backlog. Name it in the urls or drop it from the .socket unit.", EventName = "ActivatedSocketUnserved")]
    public static partial void ActivatedSocketUnserved(ILogger logger, string address, string fdName);

    [LoggerMessage(94, LogLevel.Warning, "Hand-over: pid {Pid} sent no {Expected} within {Seconds} s on the control socket; dropped it (a quiet peer must not hold the hand-over from a real successor). Still serving.", EventName = "HandoverTimedOut")]
    public static partial void HandoverTimedOut(ILogger logger, int pid, string expected, double seconds);

    [LoggerMessage(95, LogLevel.Information, "Hand-over: serving the control socket '{ControlPath}' taken from the predecessor (an abstract name cannot be bound again while it holds it).", EventName = "HandoverControlSocketTaken")]
    public static partial void HandoverControlSocketTaken(ILogger logger, string controlPath);

    // 100–119: Descriptors (SCM_RIGHTS)
    [LoggerMessage(100, LogLevel.Error, "Connection id \"{ConnectionId}\": more descriptors arrived than the {Room} a receive takes (MSG_CTRUNC); the kernel closed the rest, so the connection is aborted rather than lose them silently.", EventName = "DescriptorsTruncated")]
    public static partial void DescriptorsTruncated(ILogger logger, string connectionId, int room);

    [LoggerMessage(101, LogLevel.Error, "Connection id \"{ConnectionId}\": the peer sent more than {Limit} descriptors that no request or message took (MaxReceivedDescriptorsPerConnection); the kernel closed the excess and the connection is aborted.", EventName = "TooManyDescriptors")]
    public static partial void TooManyDescriptors(ILogger logger, string connectionId, int limit);

    [LoggerMessage(102, LogLevel.Error, "Connection id \"{ConnectionId}\": the process already holds its budget of {Budget} received descriptors (MaxReceivedDescriptors); the kernel closed the ones this peer sent and its connection is aborted. Other connections carry on.", EventName = "DescriptorBudgetExhausted")]
    public static partial void DescriptorBudgetExhausted(ILogger logger, string connectionId, int budget);

    [LoggerMessage(103, LogLevel.Error, "Connection id \"{ConnectionId}\": the process is out of descriptors (EMFILE under RLIMIT_NOFILE {OpenFilesLimit}): the kernel installed {Installed} of the descriptors the peer sent (room for {Room}) and closed the rest; the connection is aborted.", EventName = "DescriptorsNotInstalled")]
    public static partial void DescriptorsNotInstalled(ILogger logger, string connectionId, int installed, int room, int openFilesLimit);

    [LoggerMessage(104, LogLevel.Error, "Connection id \"{ConnectionId}\": user {UserId} already holds its share of {Limit} received descriptors (MaxReceivedDescriptorsPerUser); the kernel closed the ones this peer sent and its connection is aborted. Other users carry on.", EventName = "DescriptorUserShareExhausted")]
    public static partial void DescriptorUserShareExhausted(ILogger logger, string connectionId, string userId, int limit);

    // 120–139: sendfile
    [LoggerMessage(120, LogLevel.Debug, "Connection id \"{ConnectionId}\" sent {Bytes} file bytes with sendfile.", EventName = "SendFileSent")]
    public static partial void SendFileSent(ILogger logger, string connectionId, long bytes);

    [LoggerMessage(121, LogLevel.Debug, "Connection id \"{ConnectionId}\" copies a file response instead of using sendfile: {Reason}.", EventName = "SendFileFallback")]
    public static partial void SendFileFallback(ILogger logger, string connectionId, string reason);

    [LoggerMessage(122, LogLevel.Warning, "Connection id \"{ConnectionId}\": sending a file failed, so the response cannot be completed and the connection is closed: {Reason}", EventName = "SendFileFailed")]
    public static partial void SendFileFailed(ILogger logger, string connectionId, string reason, Exception exception);

    [LoggerMessage(123, LogLevel.Debug, "Connection id \"{ConnectionId}\" closed: the peer read the file below the minimum response data rate.", EventName = "SendFileTooSlow")]
    public static partial void SendFileTooSlow(ILogger logger, string connectionId);

    // 140–159: Platform
    [LoggerMessage(140, LogLevel.Warning, "Transport.UnixNative runs on Linux only; this is {OS}. Unix socket paths (first: '{Path}') are served by Kestrel's Sockets transport instead " +
        "(FallBackToSocketsTransportOnUnsupportedOS): no abstract addresses, seqpacket, peer credentials or descriptor passing.", EventName = "FallBackToSocketsTransport")]
    public static partial void FallBackToSocketsTransport(ILogger logger, string os, string path);
}
