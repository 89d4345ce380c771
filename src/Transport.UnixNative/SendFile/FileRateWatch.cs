using System.Diagnostics;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.SendFile;

/// <summary>
/// MinResponseDataRate for a file in flight, timed as Kestrel times its copying path: each 64 KiB
/// write must go out within what a write of that size is allowed (at least the grace period), with
/// the same credit for earlier writes. Kestrel sees the whole file as one flush and would allow the
/// whole file's time, so a peer that stops reading could hold the connection and the file for days.
/// </summary>
/// <remarks>Checked on Kestrel's heartbeat thread; the send loop only advances the file.</remarks>
internal sealed class FileRateWatch
{
    // The size of the writes Kestrel's copying SendFileAsync times one by one.
    private const long WriteSize = 64 * 1024;

    private readonly long _ticksPerWrite;
    private readonly long _allowance;
    private long _deadline;
    private long _counted;

    public FileRateWatch(PendingFile file, MinDataRate rate, long now)
    {
        File = file;
        _ticksPerWrite = (long)(WriteSize / rate.BytesPerSecond * Stopwatch.Frequency);
        _allowance = Math.Max(_ticksPerWrite, (long)(rate.GracePeriod.TotalSeconds * Stopwatch.Frequency));
        _deadline = now + _allowance;
    }

    public PendingFile File { get; }

    /// <summary>Whether the peer fell below the rate by <paramref name="now"/> (<see cref="Stopwatch"/> ticks).</summary>
    public bool IsTooSlow(long now)
    {
        var writes = (File.Count - File.Remaining - _counted) / WriteSize;
        if (writes > 0)
        {
            _counted += writes * WriteSize;
            _deadline = Math.Max(now + _allowance, _deadline + writes * _ticksPerWrite);
        }
        return now > _deadline;
    }
}
