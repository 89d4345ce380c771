namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// Received descriptors held by one connection (not yet handed to the application or closed), and the
/// process-wide count they add to. Room is reserved before each recvmsg, so the kernel itself closes what
/// does not fit and neither count can pass its limit; whatever was reserved and not installed goes back.
/// </summary>
internal sealed class HeldDescriptors(int budget, int connectionCap)
{
    /// <summary>What bounded the room offered to a receive.</summary>
    public enum Limit
    {
        PerReceive,
        Connection,
        Budget,
        ProcessShort,
    }

    // Every connection of every transport in the process.
    private static int s_held;

    // Listeners whose spare descriptors are given back to the runtime (out of descriptors): none may be received meanwhile.
    private static int s_shortListeners;

    private int _held;

    /// <summary>Received descriptors held in the whole process.</summary>
    public static int ProcessHeld => Volatile.Read(ref s_held);

    public int Budget { get; } = budget;

    public int ConnectionCap { get; } = connectionCap;

    /// <summary>An accept path ran out of descriptors (true) or has its spare ones again (false).</summary>
    public static void SetProcessShort(bool isShort) => Interlocked.Add(ref s_shortListeners, isShort ? 1 : -1);

    /// <summary>
    /// Reserves room for one receive: at most <paramref name="perReceive"/>, what the connection may still hold and what is
    /// left of the budget (none while an accept path is out of descriptors). Returns the room; <paramref name="limit"/> says what bounded it.
    /// </summary>
    public int Reserve(int perReceive, out Limit limit)
    {
        if (Volatile.Read(ref s_shortListeners) > 0)
        {
            limit = Limit.ProcessShort;
            return 0;
        }
        var want = perReceive;
        limit = Limit.PerReceive;
        var connectionLeft = ConnectionCap - Volatile.Read(ref _held);
        if (connectionLeft < want)
        {
            want = connectionLeft;
            limit = Limit.Connection;
        }
        if (want <= 0)
        {
            return 0;
        }
        while (true)
        {
            var held = Volatile.Read(ref s_held);
            var take = Math.Min(want, Budget - held);
            if (take <= 0)
            {
                limit = Limit.Budget;
                return 0;
            }
            if (Interlocked.CompareExchange(ref s_held, held + take, held) == held)
            {
                if (take < want)
                {
                    limit = Limit.Budget;
                }
                Interlocked.Add(ref _held, take);
                return take;
            }
        }
    }

    /// <summary>Descriptors no longer held (handed to the application, closed, or reserved and not installed). Any thread.</summary>
    public void Release(int count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref _held, -count);
            Interlocked.Add(ref s_held, -count);
        }
    }
}
