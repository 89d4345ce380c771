namespace Transport.UnixNative.Bench.Common;

/// <summary>Ctrl+C as a cancellation: a run stops at its next await, and its finally blocks stop the servers and remove their sockets.</summary>
internal static class ConsoleCancellation
{
    public static CancellationTokenSource Create()
    {
        var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        return cancel;
    }
}
