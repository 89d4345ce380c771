using System.Collections.Concurrent;

namespace Transport.UnixNative.Authentication;

/// <summary>
/// Identities shared by connections whose peers have identical credentials. The claims are a pure
/// function of (pid, uid, gid, supplementary groups, whether names are resolved), all fixed at
/// connect(): 5,000 keep-alive connections from one client process then hold one identity and one
/// set of claims instead of 5,000. Entries expire after <see cref="Lifetime"/> so a renamed user or
/// group shows within that time on new connections; the cache is bounded, so a stream of
/// short-lived clients cannot grow it.
/// </summary>
internal sealed class UnixPeerIdentityCache(int capacity, TimeSpan lifetime, TimeProvider time)
{
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromSeconds(60);

    /// <summary>The process-wide cache the authentication handler uses.</summary>
    public static UnixPeerIdentityCache Shared { get; } = new(1024, DefaultLifetime, TimeProvider.System);

    private readonly ConcurrentDictionary<Key, Entry> _entries = new();
    private readonly Lock _trimGate = new();

    public TimeSpan Lifetime => lifetime;

    public int Count => _entries.Count;

    /// <summary>The identity for these credentials: a live cached one, or <paramref name="resolve"/>'s (then cached).</summary>
    public UnixPeerIdentity GetOrResolve(int processId, uint userId, uint groupId, IReadOnlyList<uint> supplementaryGroups, bool resolveNames,
        Func<UnixPeerIdentity> resolve)
    {
        var key = new Key(processId, userId, groupId, [.. supplementaryGroups], resolveNames);
        var now = time.GetTimestamp();
        if (_entries.TryGetValue(key, out var entry) && !IsExpired(entry, now))
        {
            return entry.Identity;
        }
        var identity = resolve();
        if (_entries.Count >= capacity)
        {
            Trim(now);
        }
        if (_entries.Count < capacity || entry is not null)
        {
            _entries[key] = new Entry(identity, now);
        }
        return identity;
    }

    private bool IsExpired(Entry entry, long now) => time.GetElapsedTime(entry.Created, now) >= lifetime;

    /// <summary>Drops expired entries; if none had expired, all of them (a full cache of live peers is rare and cheap to refill).</summary>
    private void Trim(long now)
    {
        lock (_trimGate)
        {
            if (_entries.Count < capacity)
            {
                return;
            }
            foreach (var (key, entry) in _entries)
            {
                if (IsExpired(entry, now))
                {
                    _entries.TryRemove(new KeyValuePair<Key, Entry>(key, entry));
                }
            }
            if (_entries.Count >= capacity)
            {
                _entries.Clear();
            }
        }
    }

    private sealed record Entry(UnixPeerIdentity Identity, long Created);

    private readonly struct Key(int processId, uint userId, uint groupId, uint[] groups, bool resolveNames) : IEquatable<Key>
    {
        private readonly int _processId = processId;
        private readonly uint _userId = userId;
        private readonly uint _groupId = groupId;
        private readonly uint[] _groups = groups;
        private readonly bool _resolveNames = resolveNames;

        public bool Equals(Key other)
            => _processId == other._processId && _userId == other._userId && _groupId == other._groupId
               && _resolveNames == other._resolveNames && _groups.AsSpan().SequenceEqual(other._groups);

        public override bool Equals(object? obj) => obj is Key other && Equals(other);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            hash.Add(_processId);
            hash.Add(_userId);
            hash.Add(_groupId);
            hash.Add(_resolveNames);
            foreach (var group in _groups)
            {
                hash.Add(group);
            }
            return hash.ToHashCode();
        }
    }
}
