using System.Collections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// The connection is its own feature collection: every idle keep-alive connection carries one, so
/// its size counts. What the connection has by construction (its own interfaces, the peer's
/// credentials, send-file, descriptors, messages) is answered from its fields and stored nowhere
/// unless replaced or removed; the features Kestrel sets on every connection share one slot (it
/// sets them all to one object); anything else lives in a small array of pairs, scanned linearly
/// (which beats hashing at that size).
/// </summary>
internal sealed partial class UnixConnection : IFeatureCollection
{
    // Answered from the connection's fields (see OwnFeature, same order).
    private static readonly Type[] s_ownFeatures =
    [
        typeof(IConnectionIdFeature), typeof(IConnectionTransportFeature), typeof(IConnectionItemsFeature),
        typeof(IConnectionLifetimeFeature), typeof(IConnectionEndPointFeature), typeof(IMemoryPoolFeature),
        typeof(IUnixPeerCredentialsFeature), typeof(ISendFileFeature), typeof(IUnixFileDescriptorsFeature), typeof(IUnixMessageFeature),
    ];

    // What Kestrel 10 sets on every connection it serves (all four are its KestrelConnection). The
    // last is internal to Kestrel, found by name: where a version lacks it, its slot stays unused.
    private static readonly Type[] s_kestrelFeatures =
    [
        .. new[]
        {
            typeof(IConnectionHeartbeatFeature), typeof(IConnectionCompleteFeature), typeof(IConnectionLifetimeNotificationFeature),
            Type.GetType("Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Infrastructure.IConnectionMetricsContextFeature, Microsoft.AspNetCore.Server.Kestrel.Core"),
        }.OfType<Type>(),
    ];

    // Stands for "removed" where the connection would otherwise answer.
    private static readonly object s_removed = new();

    // The one object that answers the Kestrel features whose bits are set (by index in s_kestrelFeatures).
    private object? _kestrelFeature;
    private byte _kestrelFeatureBits;
    private FeatureEntry[]? _otherFeatures; // replaced or removed own features, and any other type
    private int _otherFeatureCount;
    private int _featureRevision;

    private record struct FeatureEntry(Type Key, object Value);

    public override IFeatureCollection Features => this;

    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _featureRevision;

    /// <summary>What the connection answers by itself for <c>s_ownFeatures[index]</c> (null: it has none).</summary>
    private object? OwnFeature(int index) => index switch
    {
        6 => _hasPeerCredentials ? this : null,
        7 => _sendFile,
        8 => _receivedDescriptors,
        9 => _messages,
        _ => this,
    };

    object? IFeatureCollection.this[Type key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            var other = IndexOfOther(key);
            if (other >= 0)
            {
                var value = _otherFeatures![other].Value;
                return ReferenceEquals(value, s_removed) ? null : value;
            }
            var own = IndexOf(s_ownFeatures, key);
            if (own >= 0)
            {
                return OwnFeature(own);
            }
            var kestrel = IndexOf(s_kestrelFeatures, key);
            return kestrel >= 0 ? KestrelFeature(kestrel) : null;
        }
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            _featureRevision++;
            var other = IndexOfOther(key);
            if (other < 0 && IndexOf(s_kestrelFeatures, key) is var kestrel and >= 0 && TrySetKestrelFeature(kestrel, value))
            {
                return;
            }
            // An own feature differs from what the connection answers only through an entry: a
            // replacement, or the marker for removed. Setting it back to the answer drops the entry.
            var own = IndexOf(s_ownFeatures, key);
            var stored = own < 0 ? value
                : ReferenceEquals(value, OwnFeature(own)) ? null
                : value ?? s_removed;
            if (other >= 0)
            {
                if (stored is null)
                {
                    _otherFeatureCount--;
                    _otherFeatures![other] = _otherFeatures[_otherFeatureCount];
                    _otherFeatures[_otherFeatureCount] = default;
                }
                else
                {
                    _otherFeatures![other].Value = stored;
                }
            }
            else if (stored is not null)
            {
                // Mostly none, or one: Kestrel's IConnectionMetricsTagsFeature, set while something listens to its meter.
                _otherFeatures ??= new FeatureEntry[1];
                if (_otherFeatureCount == _otherFeatures.Length)
                {
                    Array.Resize(ref _otherFeatures, _otherFeatureCount * 2);
                }
                _otherFeatures[_otherFeatureCount++] = new FeatureEntry(key, stored);
            }
        }
    }

    private object? KestrelFeature(int index) => (_kestrelFeatureBits & (1 << index)) != 0 ? _kestrelFeature : null;

    /// <summary>False if another object holds the shared slot: then the feature takes an entry of its own.</summary>
    private bool TrySetKestrelFeature(int index, object? value)
    {
        var bit = (byte)(1 << index);
        if (value is null)
        {
            _kestrelFeatureBits &= (byte)~bit;
        }
        else if (ReferenceEquals(value, _kestrelFeature) || (_kestrelFeatureBits & ~bit) == 0)
        {
            _kestrelFeature = value;
            _kestrelFeatureBits |= bit;
        }
        else
        {
            _kestrelFeatureBits &= (byte)~bit;
            return false;
        }
        if (_kestrelFeatureBits == 0)
        {
            _kestrelFeature = null;
        }
        return true;
    }

    private static int IndexOf(Type[] types, Type key)
    {
        for (var i = 0; i < types.Length; i++)
        {
            if (ReferenceEquals(types[i], key))
            {
                return i;
            }
        }
        return -1;
    }

    private int IndexOfOther(Type key)
    {
        var entries = _otherFeatures;
        for (var i = 0; i < _otherFeatureCount; i++)
        {
            if (ReferenceEquals(entries![i].Key, key))
            {
                return i;
            }
        }
        return -1;
    }

    TFeature? IFeatureCollection.Get<TFeature>() where TFeature : default
        => ((IFeatureCollection)this)[typeof(TFeature)] is TFeature feature ? feature : default;

    void IFeatureCollection.Set<TFeature>(TFeature? instance) where TFeature : default
        => ((IFeatureCollection)this)[typeof(TFeature)] = instance;

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        for (var i = 0; i < s_ownFeatures.Length; i++)
        {
            if (IndexOfOther(s_ownFeatures[i]) < 0 && OwnFeature(i) is { } feature)
            {
                yield return new KeyValuePair<Type, object>(s_ownFeatures[i], feature);
            }
        }
        for (var i = 0; i < s_kestrelFeatures.Length; i++)
        {
            if (KestrelFeature(i) is { } feature)
            {
                yield return new KeyValuePair<Type, object>(s_kestrelFeatures[i], feature);
            }
        }
        for (var i = 0; i < _otherFeatureCount; i++)
        {
            var entry = _otherFeatures![i];
            if (!ReferenceEquals(entry.Value, s_removed))
            {
                yield return new KeyValuePair<Type, object>(entry.Key, entry.Value);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)this).GetEnumerator();
}
