using Microsoft.Extensions.Logging;

namespace Transport.UnixNative.Core.Diagnostics;

internal static partial class TransportLog
{
    [LoggerMessage(120, LogLevel.Debug, "Connection id \"{ConnectionId}\" sent {Bytes} file bytes with sendfile.", EventName = "SendFileSent")]
    public static partial void SendFileSent(ILogger logger, string connectionId, long bytes);

    [LoggerMessage(121, LogLevel.Debug, "Connection id \"{ConnectionId}\" copies a file response instead of using sendfile: {Reason}.", EventName = "SendFileFallback")]
    public static partial void SendFileFallback(ILogger logger, string connectionId, string reason);

    [LoggerMessage(122, LogLevel.Warning, "Connection id \"{ConnectionId}\": sending a file failed, so the response cannot be completed and the connection is closed: {Reason}", EventName = "SendFileFailed")]
    public static partial void SendFileFailed(ILogger logger, string connectionId, string reason, Exception exception);

    [LoggerMessage(123, LogLevel.Debug, "Connection id \"{ConnectionId}\" closed: the peer read the file below the minimum response data rate.", EventName = "SendFileTooSlow")]
    public static partial void SendFileTooSlow(ILogger logger, string connectionId);
}
