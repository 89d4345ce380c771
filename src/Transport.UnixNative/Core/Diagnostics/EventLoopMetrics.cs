using System.Diagnostics;

namespace Transport.UnixNative.Core.Diagnostics;

/// <summary>What one I/O thread records: events per epoll_wait and eventfd wake-ups, tagged with its index.</summary>
internal sealed class EventLoopMetrics(UnixNativeMetrics instruments, int loopIndex)
{
    private readonly TagList _tags = new() { { "unixnative.eventloop.index", loopIndex } };

    public void EventsFetched(int count)
    {
        if (instruments.EventsPerWait.Enabled)
        {
            instruments.EventsPerWait.Record(count, _tags);
        }
    }

    public void WokenUp()
    {
        if (instruments.Wakeups.Enabled)
        {
            instruments.Wakeups.Add(1, _tags);
        }
    }
}
