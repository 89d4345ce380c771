using System.IO.Pipelines;

namespace Transport.UnixNative.Internal;

/// <summary>
/// Resumes a connection's send loop after the application flushes. The send does not run inside
/// the flush (that would cost one sendmsg per flush, and HTTP/2's frame writer and pipelined
/// HTTP/1.1 flush many times in a row) but right after the flushing work item, on the same thread:
/// every flush of that burst becomes one sendmsg, with no thread hop and no eventfd wake-up.
/// On the loop thread itself (inline application scheduling) the loop's queue does the same.
/// </summary>
internal sealed class SendScheduler(EventLoop loop) : PipeScheduler
{
    public override void Schedule(Action<object?> action, object? state)
    {
        if (loop.IsCurrentThread)
        {
            loop.Schedule(action, state);
        }
        else
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: true);
        }
    }
}
