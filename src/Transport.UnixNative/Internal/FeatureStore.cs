using System.Collections;
using Microsoft.AspNetCore.Http.Features;

namespace Transport.UnixNative.Internal;

/// <summary>
/// A connection's features in two small parallel arrays. A connection carries about a dozen
/// (the transport's and those Kestrel adds); a linear scan over that many type references beats
/// hashing, and the arrays cost about a third of a dictionary's memory, which adds up over
/// thousands of idle keep-alive connections.
/// </summary>
internal sealed class FeatureStore : IFeatureCollection
{
    private Type[] _types = new Type[16];
    private object[] _instances = new object[16];
    private int _count;
    private int _revision;

    public bool IsReadOnly => false;

    public int Revision => _revision;

    public object? this[Type key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            var types = _types;
            for (var i = 0; i < _count; i++)
            {
                if (ReferenceEquals(types[i], key))
                {
                    return _instances[i];
                }
            }
            return null;
        }
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            for (var i = 0; i < _count; i++)
            {
                if (ReferenceEquals(_types[i], key))
                {
                    if (value is null)
                    {
                        _count--;
                        _types[i] = _types[_count];
                        _instances[i] = _instances[_count];
                        _types[_count] = null!;
                        _instances[_count] = null!;
                    }
                    else
                    {
                        _instances[i] = value;
                    }
                    _revision++;
                    return;
                }
            }
            if (value is null)
            {
                return;
            }
            if (_count == _types.Length)
            {
                Array.Resize(ref _types, _count * 2);
                Array.Resize(ref _instances, _count * 2);
            }
            _types[_count] = key;
            _instances[_count] = value;
            _count++;
            _revision++;
        }
    }

    public TFeature? Get<TFeature>() => this[typeof(TFeature)] is TFeature feature ? feature : default;

    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator()
    {
        for (var i = 0; i < _count; i++)
        {
            yield return new KeyValuePair<Type, object>(_types[i], _instances[i]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
