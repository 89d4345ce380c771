namespace Transport.UnixNative.Core.Loop;

/// <summary>
/// The loop's awaitable: the continuation runs on the loop thread, scheduled without flowing the
/// ExecutionContext. Inline when already there, unless <c>queue</c> asks to let queued work go first.
/// </summary>
internal readonly struct LoopAwaitable(EventLoop loop, bool queue) : System.Runtime.CompilerServices.ICriticalNotifyCompletion
{
    public LoopAwaitable GetAwaiter() => this;

    public bool IsCompleted => !queue && loop.IsCurrentThread;

    public void GetResult()
    {
    }

    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation) => loop.Schedule(static c => ((Action)c!)(), continuation);
}
