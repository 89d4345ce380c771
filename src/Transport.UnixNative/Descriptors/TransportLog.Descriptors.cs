using Microsoft.Extensions.Logging;

namespace Transport.UnixNative.Internal;

/// <summary>Log lines of descriptor passing: ids 100–109.</summary>
internal static partial class TransportLog
{
    [LoggerMessage(100, LogLevel.Error, "Connection id \"{ConnectionId}\": more descriptors arrived than the {Room} a receive takes (MSG_CTRUNC); the kernel closed the rest, so the connection is aborted rather than lose them silently.", EventName = "DescriptorsTruncated")]
    public static partial void DescriptorsTruncated(ILogger logger, string connectionId, int room);

    [LoggerMessage(101, LogLevel.Error, "Connection id \"{ConnectionId}\": the peer sent more than {Limit} descriptors that no request took; the connection is aborted.", EventName = "TooManyDescriptors")]
    public static partial void TooManyDescriptors(ILogger logger, string connectionId, int limit);
}
