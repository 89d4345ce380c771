using Microsoft.Extensions.Logging;

namespace Transport.UnixNative.Core.Diagnostics;

/// <summary>Log lines of descriptor passing: ids 100–109.</summary>
internal static partial class TransportLog
{
    [LoggerMessage(100, LogLevel.Error, "Connection id \"{ConnectionId}\": more descriptors arrived than the {Room} a receive takes (MSG_CTRUNC); the kernel closed the rest, so the connection is aborted rather than lose them silently.", EventName = "DescriptorsTruncated")]
    public static partial void DescriptorsTruncated(ILogger logger, string connectionId, int room);

    [LoggerMessage(101, LogLevel.Error, "Connection id \"{ConnectionId}\": the peer sent more than {Limit} descriptors that no request or message took (MaxReceivedDescriptorsPerConnection); the kernel closed the excess and the connection is aborted.", EventName = "TooManyDescriptors")]
    public static partial void TooManyDescriptors(ILogger logger, string connectionId, int limit);

    [LoggerMessage(102, LogLevel.Error, "Connection id \"{ConnectionId}\": the process already holds its budget of {Budget} received descriptors (MaxReceivedDescriptors); the kernel closed the ones this peer sent and its connection is aborted. Other connections carry on.", EventName = "DescriptorBudgetExhausted")]
    public static partial void DescriptorBudgetExhausted(ILogger logger, string connectionId, int budget);

    [LoggerMessage(103, LogLevel.Error, "Connection id \"{ConnectionId}\": the process is out of descriptors (EMFILE under RLIMIT_NOFILE {OpenFilesLimit}): the kernel installed {Installed} of the descriptors the peer sent (room for {Room}) and closed the rest; the connection is aborted.", EventName = "DescriptorsNotInstalled")]
    public static partial void DescriptorsNotInstalled(ILogger logger, string connectionId, int installed, int room, int openFilesLimit);
}
