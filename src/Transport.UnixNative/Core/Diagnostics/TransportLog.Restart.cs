using Microsoft.Extensions.Logging;

namespace Transport.UnixNative.Core.Diagnostics;

/// <summary>Socket activation and hand-over (ids 80–99).</summary>
internal static partial class TransportLog
{
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
}
