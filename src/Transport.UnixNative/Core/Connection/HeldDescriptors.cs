using System.Collections.Concurrent;

namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// Received descriptors held by one connection (not yet handed to the application or closed), and the
/// process-wide counts they add to: the whole process's and its peer user's. Room is reserved before each
/// recvmsg, so the kernel itself closes what does not fit and no count can pass its limit; whatever was
/// reserved and not installed goes back.
/// </summary>
internal sealed class HeldDescriptors(int budget, int connectionCap, int userCap)
{
    /// <summary>What bounded the room offered to a receive.</summary>
    public enum Limit
    {
        PerReceive,
        Connection,
        User,
        Budget,
        ProcessShort,
    }

    // The key of connections whose peer's credentials the kernel could not tell (uids are 32-bit).
    private const long UnknownUser = -1;

    // Every connection of every transport in the process.
    private static int s_held;

    // Per peer uid, across every transport in the process; a user holding none has no entry, so the map stays
    // as small as the number of users holding descriptors right now.
    private static readonly ConcurrentDictionary<long, int> s_heldByUser = new();

    // Listeners whose spare descriptors are given back to the runtime (out of descriptors): none may be received meanwhile.
    private static int s_shortListeners;

    private int _held;

    private long _user = UnknownUser;

    /// <summary>Received descriptors held in the whole process.</summary>
    public static int ProcessHeld => Volatile.Read(ref s_held);

    /// <summary>Users (distinct peer uids, and one for unknown peers) holding received descriptors now.</summary>
    public static int UsersHolding => s_heldByUser.Count;

    public int Budget { get; } = budget;

    public int ConnectionCap { get; } = connectionCap;

    public int UserCap { get; } = userCap;

    /// <summary>The peer's uid (SO_PEERCRED), null when unknown; what <see cref="UserCap"/> counts.</summary>
    public uint? UserId => _user == UnknownUser ? null : (uint)_user;

    /// <summary>Received descriptors held by <paramref name="uid"/> (null: peers without credentials) in the whole process.</summary>
    public static int HeldByUser(uint? uid) => s_heldByUser.TryGetValue(uid ?? UnknownUser, out var held) ? held : 0;

    /// <summary>Counts this connection under the peer's uid; before its first receive.</summary>
    public void SetUser(uint uid) => _user = uid;

    /// <summary>An accept path ran out of descriptors (true) or has its spare ones again (false).</summary>
    public static void SetProcessShort(bool isShort) => Interlocked.Add(ref s_shortListeners, isShort ? 1 : -1);

    /// <summary>
    /// Reserves room for one receive: at most <paramref name="perReceive"/>, what the connection may still hold, what
    /// its user may still hold and what is left of the budget (none while an accept path is out of descriptors).
    /// Returns the room; <paramref name="limit"/> says what bounded it.
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
        var beforeUser = want;
        var forUser = ReserveForUser(want);
        if (forUser < want)
        {
            want = forUser;
            limit = Limit.User;
        }
        if (want <= 0)
        {
            if (Budget - Volatile.Read(ref s_held) <= 0)
            {
                limit = Limit.Budget; // both are full: the process's limit is the one to name
            }
            return 0;
        }
        while (true)
        {
            var held = Volatile.Read(ref s_held);
            var budgetLeft = Budget - held;
            var take = Math.Min(want, budgetLeft);
            if (take <= 0)
            {
                limit = Limit.Budget;
                ReleaseForUser(want);
                return 0;
            }
            if (Interlocked.CompareExchange(ref s_held, held + take, held) == held)
            {
                if (take < want || budgetLeft < beforeUser && budgetLeft <= want)
                {
                    limit = Limit.Budget; // the whole process's limit, when it binds as tight as the user's
                    ReleaseForUser(want - take);
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
            ReleaseForUser(count);
            Interlocked.Add(ref s_held, -count);
        }
    }

    // Takes up to `want` of what the user may still hold; compare-and-swap on the entry, as on the process count.
    private int ReserveForUser(int want)
    {
        while (true)
        {
            if (!s_heldByUser.TryGetValue(_user, out var held))
            {
                var first = Math.Min(want, UserCap);
                if (first <= 0 || s_heldByUser.TryAdd(_user, first))
                {
                    return Math.Max(first, 0);
                }
                continue;
            }
            var take = Math.Min(want, UserCap - held);
            if (take <= 0)
            {
                return 0;
            }
            if (s_heldByUser.TryUpdate(_user, held + take, held))
            {
                return take;
            }
        }
    }

    // Gives back `count`; the entry goes when it reaches 0 (removed only if nobody changed it meanwhile).
    private void ReleaseForUser(int count)
    {
        while (count > 0)
        {
            if (!s_heldByUser.TryGetValue(_user, out var held))
            {
                System.Diagnostics.Debug.Fail("released more than the user held");
                return;
            }
            if (held <= count
                ? s_heldByUser.TryRemove(new KeyValuePair<long, int>(_user, held))
                : s_heldByUser.TryUpdate(_user, held - count, held))
            {
                return;
            }
        }
    }
}
