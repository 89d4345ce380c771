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

    // Per peer uid, across every transport in the process. An entry lives while a connection of its user has
    // received (it is counted in Connections) and goes with the last one, so the map stays as small as the
    // number of users connected now; a receive only touches its entry, never the map.
    private static readonly ConcurrentDictionary<long, UserShare> s_users = new();

    // Listeners whose spare descriptors are given back to the runtime (out of descriptors): none may be received meanwhile.
    private static int s_shortListeners;

    private int _held;

    private long _user = UnknownUser;

    private UserShare? _share;

    private bool _detached;

    /// <summary>Received descriptors held in the whole process.</summary>
    public static int ProcessHeld => Volatile.Read(ref s_held);

    /// <summary>Users (distinct peer uids, and one for unknown peers) with an entry: a connection that has received and not closed.</summary>
    public static int UsersHolding => s_users.Count;

    public int Budget { get; } = budget;

    public int ConnectionCap { get; } = connectionCap;

    public int UserCap { get; } = userCap;

    /// <summary>The peer's uid (SO_PEERCRED), null when unknown; what <see cref="UserCap"/> counts.</summary>
    public uint? UserId => _user == UnknownUser ? null : (uint)_user;

    /// <summary>Received descriptors held by <paramref name="uid"/> (null: peers without credentials) in the whole process.</summary>
    public static int HeldByUser(uint? uid) => s_users.TryGetValue(uid ?? UnknownUser, out var share) ? Volatile.Read(ref share.Held) : 0;

    /// <summary>Counts this connection under the peer's uid; before its first receive.</summary>
    public void SetUser(uint uid) => _user = uid;

    /// <summary>
    /// The connection is closed and has released what it held: its user's entry goes if no other connection of
    /// that user has one. Loop thread, once; no receive follows.
    /// </summary>
    public void Detach()
    {
        _detached = true;
        if (_share is { } share && Interlocked.Decrement(ref share.Connections) == 0
            && Interlocked.CompareExchange(ref share.Connections, UserShare.Removed, 0) == 0)
        {
            s_users.TryRemove(new KeyValuePair<long, UserShare>(_user, share));
        }
    }

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
        limit = Limit.PerReceive;
        if (_detached)
        {
            return 0; // closed: no entry to count in any more
        }
        var want = perReceive;
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

    // Takes up to `want` of what the user may still hold; compare-and-swap, as on the process count.
    private int ReserveForUser(int want)
    {
        var share = _share ??= Attach(_user);
        while (true)
        {
            var held = Volatile.Read(ref share.Held);
            var take = Math.Min(want, UserCap - held);
            if (take <= 0)
            {
                return 0;
            }
            if (Interlocked.CompareExchange(ref share.Held, held + take, held) == held)
            {
                return take;
            }
        }
    }

    private void ReleaseForUser(int count)
    {
        if (count > 0 && _share is { } share)
        {
            Interlocked.Add(ref share.Held, -count);
        }
    }

    // The user's entry, counting this connection in; an entry being removed (its last connection closed) is replaced.
    private static UserShare Attach(long user)
    {
        while (true)
        {
            var share = s_users.GetOrAdd(user, static _ => new UserShare());
            var connections = Volatile.Read(ref share.Connections);
            if (connections == UserShare.Removed)
            {
                s_users.TryRemove(new KeyValuePair<long, UserShare>(user, share)); // its remover may not have got there yet
                continue;
            }
            if (Interlocked.CompareExchange(ref share.Connections, connections + 1, connections) == connections)
            {
                return share;
            }
        }
    }

    private sealed class UserShare
    {
        public const int Removed = -1;

        // Received descriptors the user's connections hold.
        public int Held;

        // Connections of the user that have received and not closed; Removed once the entry leaves the map.
        public int Connections;
    }
}
