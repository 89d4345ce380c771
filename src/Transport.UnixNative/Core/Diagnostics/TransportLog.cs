using Microsoft.Extensions.Logging;

namespace Transport.UnixNative.Core.Diagnostics;

/// <summary>Every log line of the transport, with fixed event ids.</summary>
internal static partial class TransportLog
{
    public const string CategoryName = "Transport.UnixNative";

    [LoggerMessage(140, LogLevel.Warning, "Transport.UnixNative runs on Linux only; this is {OS}. Unix socket paths (first: '{Path}') are served by Kestrel's Sockets transport instead " +
        "(FallBackToSocketsTransportOnUnsupportedOS): no abstract addresses, seqpacket, peer credentials or descriptor passing.", EventName = "FallBackToSocketsTransport")]
    public static partial void FallBackToSocketsTransport(ILogger logger, string os, string path);

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

    [LoggerMessage(9, LogLevel.Error, "Accepting on '{Address}' failed.", EventName = "AcceptError")]
    public static partial void AcceptError(ILogger logger, string address, Exception exception);

    [LoggerMessage(10, LogLevel.Error, "Unhandled exception on I/O thread {LoopIndex}; the loop continues.", EventName = "LoopError")]
    public static partial void LoopError(ILogger logger, int loopIndex, Exception exception);

    [LoggerMessage(11, LogLevel.Debug, "Started {Count} I/O thread(s).", EventName = "LoopsStarted")]
    public static partial void LoopsStarted(ILogger logger, int count);

    [LoggerMessage(60, LogLevel.Warning, "Connection on '{Address}' closed while being set up; the listener carries on.", EventName = "ConnectionSetupFailed")]
    public static partial void ConnectionSetupFailed(ILogger logger, string address, Exception exception);

    [LoggerMessage(61, LogLevel.Warning, "Out of descriptors accepting on '{Address}' ({Reason}): new clients wait in the kernel backlog; retrying every {RetryMilliseconds} ms.", EventName = "AcceptStarved")]
    public static partial void AcceptStarved(ILogger logger, string address, string reason, int retryMilliseconds);

    [LoggerMessage(62, LogLevel.Information, "Accepting on '{Address}' again after {Seconds:F1} s out of descriptors ({Retries} retries).", EventName = "AcceptResumed")]
    public static partial void AcceptResumed(ILogger logger, string address, double seconds, long retries);
}
