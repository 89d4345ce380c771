namespace Transport.UnixNative.Client.Tests.Infrastructure;

/// <summary>Every await in the tests has a bound, so a hang fails the test instead of the run.</summary>
internal static class TimeoutExtensions
{
    public static readonly TimeSpan DefaultTimeoutValue = TimeSpan.FromSeconds(30);

    public static Task DefaultTimeout(this Task task) => task.WaitAsync(DefaultTimeoutValue);

    public static Task<T> DefaultTimeout<T>(this Task<T> task) => task.WaitAsync(DefaultTimeoutValue);

    public static Task DefaultTimeout(this ValueTask task) => task.AsTask().WaitAsync(DefaultTimeoutValue);

    public static Task<T> DefaultTimeout<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(DefaultTimeoutValue);
}
