using System.Collections;
using Microsoft.AspNetCore.Http.Features;

namespace Transport.UnixNative.Internal;

/// <summary>
/// A connection's features. The ones the connection object implements itself are answered by a
/// type check, stored nowhere (unless replaced or removed); the others (about eight: descriptors,
/// credentials, send-file, and those Kestrel adds) live in one small array of pairs, scanned
/// linearly, which beats hashing at that size. Every idle keep-alive connection carries one, so
/// its size counts: this is about a quarter of a dictionary's.
/// </summary>
internal sealed class FeatureStore : IFeatureCollection
{
    private const int InitialCapacity = 8;

    // Stands for "removed" where the owner would otherwise answer.
    private static readonly object s_removed = new();

    private readonly object? _owner;
    private readonly Type[] _ownerFeatures;
    private Entry[]? _entries;
    private int _count;
    private int _revision;

    public FeatureStore()
        : this(null, [])
    {
    }

    /// <param name="owner">The object that implements <paramref name="ownerFeatures"/>.</param>
    /// <param name="ownerFeatures">Feature types answered by <paramref name="owner"/> (shared, not copied).</param>
    public FeatureStore(object? owner, Type[] ownerFeatures)
    {
        _owner = owner;
        _ownerFeatures = ownerFeatures;
    }

    private record struct Entry(Type Key, object Value);

    public bool IsReadOnly => false;

    public int Revision => _revision;

    public object? this[Type key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            var index = IndexOf(key);
            if (index >= 0)
            {
                var value = _entries![index].Value;
                return ReferenceEquals(value, s_removed) ? null : value;
            }
            return IsOwnerFeature(key) ? _owner : null;
        }
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            var index = IndexOf(key);
            // Removing what the owner answers needs a marker; removing anything else, the entry.
            var stored = value ?? (IsOwnerFeature(key) ? s_removed : null);
            if (index >= 0)
            {
                if (stored is null)
                {
                    _count--;
                    _entries![index] = _entries[_count];
                    _entries[_count] = default;
                }
                else
                {
                    _entries![index].Value = stored;
                }
                _revision++;
                return;
            }
            if (stored is null)
            {
                return;
            }
            if (ReferenceEquals(stored, _owner) && IsOwnerFeature(key))
            {
                _revision++; // already the answer
                return;
            }
            _entries ??= new Entry[InitialCapacity];
            if (_count == _entries.Length)
            {
                Array.Resize(ref _entries, _count * 2);
            }
            _entries[_count++] = new Entry(key, stored);
            _revision++;
        }
    }

    private int IndexOf(Type key)
    {
        var entries = _entries;
        for (var i = 0; i < _count; i++)
        {
            if (ReferenceEquals(entries![i].Key, key))
            {
                return i;
            }
        }
        return -1;
    }

    private bool IsOwnerFeature(Type key)
    {
        foreach (var type in _ownerFeatures)
        {
            if (ReferenceEquals(type, key))
            {
                return true;
            }
        }
        return false;
    }

    public TFeature? Get<TFeature>() => this[typeof(TFeature)] is TFeature feature ? feature : default;

    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator()
    {
        foreach (var type in _ownerFeatures)
        {
            if (IndexOf(type) < 0)
            {
                yield return new KeyValuePair<Type, object>(type, _owner!);
            }
        }
        for (var i = 0; i < _count; i++)
        {
            if (!ReferenceEquals(_entries![i].Value, s_removed))
            {
                yield return new KeyValuePair<Type, object>(_entries[i].Key, _entries[i].Value);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
