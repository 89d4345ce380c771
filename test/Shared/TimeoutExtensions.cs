namespace Transport.UnixNative.Testing;

/// <summary>Every await in the suite is bounded: a hang becomes a TimeoutException that names the test, not a stuck run.</summary>
internal static class TimeoutExtensions
{
    public static readonly TimeSpan DefaultTimeoutValue = TimeSpan.FromSeconds(30);

    public static Task DefaultTimeout(this Task task) => task.WaitAsync(DefaultTimeoutValue);

    public static Task<T> DefaultTimeout<T>(this Task<T> task) => task.WaitAsync(DefaultTimeoutValue);

    public static Task DefaultTimeout(this ValueTask task) => task.AsTask().WaitAsync(DefaultTimeoutValue);

    public static Task<T> DefaultTimeout<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(DefaultTimeoutValue);

    public static Task<T> Timeout<T>(this Task<T> task, TimeSpan timeout) => task.WaitAsync(timeout);

    public static Task Timeout(this Task task, TimeSpan timeout) => task.WaitAsync(timeout);
}

/// <summary>Waits for a condition by polling it against a deadline (a condition, not a sleep, is what synchronises).</summary>
internal static class Poll
{
    public static async Task<bool> UntilAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeoutExtensions.DefaultTimeoutValue);
        while (true)
        {
            if (condition())
            {
                return true;
            }
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(20);
        }
    }
}
