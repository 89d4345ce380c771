using System.IO.Pipelines;

namespace Transport.UnixNative.Core.Pipes;

/// <summary>
/// A continuation a <see cref="ConnectionPipe"/> read or a <see cref="ConnectionOutput"/> flush waits
/// with, taken out under the lock and run after it is released (with the caller's execution context
/// when the awaiter asked for it to flow).
/// </summary>
internal readonly record struct PipeContinuation(Action<object?>? Continuation, object? State, ExecutionContext? Context)
{
    /// <summary>Runs it on <paramref name="scheduler"/>.</summary>
    public void Dispatch(PipeScheduler scheduler)
    {
        if (Continuation is null)
        {
            return;
        }
        if (Context is null)
        {
            scheduler.Schedule(Continuation, State);
        }
        else
        {
            scheduler.Schedule(static s => ((PipeContinuation)s!).Run(), this);
        }
    }

    /// <summary>Runs it here (the caller is on the right scheduler already).</summary>
    public void Run()
    {
        if (Continuation is null)
        {
            return;
        }
        if (Context is null)
        {
            Continuation(State);
        }
        else
        {
            ExecutionContext.Run(Context, static s =>
            {
                var continuation = (PipeContinuation)s!;
                continuation.Continuation!(continuation.State);
            }, this);
        }
    }
}
