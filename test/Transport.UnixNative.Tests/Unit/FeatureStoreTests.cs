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

    private sealed class Owner : IConnectionIdFeature, IConnectionItemsFeature
    {
        public string ConnectionId { get; set; } = "owner";

        public IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    }

    [Fact]
    public void OwnersFeatures_AreAnsweredWithoutBeingSet_AndCanBeReplacedAndRemoved()
    {
        var owner = new Owner();
        IFeatureCollection store = new FeatureStore(owner, [typeof(IConnectionIdFeature), typeof(IConnectionItemsFeature)]);
        Assert.Same(owner, store.Get<IConnectionIdFeature>());
        Assert.Same(owner, store.Get<IConnectionItemsFeature>());
        Assert.Equal([typeof(IConnectionIdFeature), typeof(IConnectionItemsFeature)], store.Select(p => p.Key));

        var revision = store.Revision;
        store.Set<IConnectionIdFeature>(new Id("replaced"));
        Assert.Equal("replaced", store.Get<IConnectionIdFeature>()!.ConnectionId);
        Assert.NotEqual(revision, store.Revision);
        Assert.Equal(2, store.Count());

        store.Set<IConnectionItemsFeature>(null);
        Assert.Null(store.Get<IConnectionItemsFeature>());
        Assert.Equal([typeof(IConnectionIdFeature)], store.Select(p => p.Key));

        store.Set<IConnectionItemsFeature>(owner);
        store.Set<IConnectionIdFeature>(owner);
        Assert.Same(owner, store.Get<IConnectionItemsFeature>());
        Assert.Same(owner, store.Get<IConnectionIdFeature>());
        Assert.Equal(2, store.Count());

        store.Set<IConnectionIdFeature>(null);
        store.Set<IConnectionIdFeature>(null); // removing twice is removing once
        Assert.Null(store.Get<IConnectionIdFeature>());
        Assert.Single(store);
    }
}
