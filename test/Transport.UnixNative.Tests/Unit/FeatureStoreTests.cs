using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Transport.UnixNative.Internal;

namespace Transport.UnixNative.Tests.Unit;

public sealed class FeatureStoreTests
{
    private sealed class Id(string id) : IConnectionIdFeature
    {
        public string ConnectionId { get; set; } = id;
    }

    private sealed class ItemsFeature : IConnectionItemsFeature
    {
        public IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    }

    [Fact]
    public void SetGetReplaceRemove_BehaveLikeAFeatureCollection()
    {
        IFeatureCollection store = new FeatureStore();
        var revision = store.Revision;

        store.Set<IConnectionIdFeature>(new Id("a"));
        store.Set<IConnectionItemsFeature>(new ItemsFeature());
        Assert.Equal("a", store.Get<IConnectionIdFeature>()!.ConnectionId);
        Assert.NotEqual(revision, store.Revision);

        store.Set<IConnectionIdFeature>(new Id("b"));
        Assert.Equal("b", store.Get<IConnectionIdFeature>()!.ConnectionId);
        Assert.Equal(2, store.Count());

        store.Set<IConnectionIdFeature>(null);
        Assert.Null(store.Get<IConnectionIdFeature>());
        Assert.NotNull(store.Get<IConnectionItemsFeature>());
        Assert.Single(store);
    }

    [Fact]
    public void ManyFeatures_GrowBeyondInitialCapacity()
    {
        var store = new FeatureStore();
        var types = typeof(IFeatureCollection).Assembly.GetExportedTypes().Where(t => t.IsInterface).Take(40).ToArray();
        foreach (var type in types)
        {
            store[type] = type.Name;
        }

        Assert.All(types, type => Assert.Equal(type.Name, store[type]));
        Assert.Equal(types.Length, store.Count());
    }
}
