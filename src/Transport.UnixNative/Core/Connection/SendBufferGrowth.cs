namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// How many connections may hold a grown send buffer at once (<see cref="UnixConnection.GrownSendBuffer"/>). A
/// peer that asks for large responses and never reads keeps its grown buffer full of kernel memory charged to
/// the server; past this many such connections the rest keep the kernel's default buffer, as before growth.
/// </summary>
internal sealed class SendBufferGrowth(int limit)
{
    /// <summary>The whole process's: 256 connections × (2 × 512 KiB) is at most 256 MiB more than default buffers.</summary>
    public static SendBufferGrowth Process { get; } = new(256);

    private int _grown;

    public int Grown => Volatile.Read(ref _grown);

    public bool TryTake()
    {
        if (Interlocked.Increment(ref _grown) <= limit)
        {
            return true;
        }
        Interlocked.Decrement(ref _grown);
        return false;
    }

    public void Return() => Interlocked.Decrement(ref _grown);
}
