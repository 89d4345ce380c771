using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.SendFile;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>
/// A connection is its own feature collection: what it answers from its fields, the slots for
/// Kestrel's features and the array for the rest behave together as one plain collection would.
/// </summary>
public sealed class ConnectionFeaturesTests : IDisposable
{
    private readonly DetachedConnections _connections = new();

    public void Dispose() => _connections.Dispose();

    private sealed class Id(string id) : IConnectionIdFeature
    {
        public string ConnectionId { get; set; } = id;
    }

    private sealed class Heartbeat : IConnectionHeartbeatFeature
    {
        public void OnHeartbeat(Action<object> action, object state)
        {
        }
    }

    private sealed class Credentials : IUnixPeerCredentialsFeature
    {
        public int ProcessId => 1;
        public uint UserId => 2;
        public uint GroupId => 3;
        public string? SecurityLabel => null;
        public IReadOnlyList<uint> GetSupplementaryGroupIds() => [];
        public System.Runtime.InteropServices.SafeHandle? OpenPidFd() => null;
    }

    /// <summary>An accepted stream connection as the listener sets it up: credentials read, send-file offered.</summary>
    private UnixConnection Accepted()
    {
        var connection = _connections.Create(out _);
        connection.SetPeerCredentials(new PeerCredentials(1, 2, 3), null);
        SendFileAttachment.Attach(connection);
        return connection;
    }

    [Fact]
    public void AnAcceptedConnection_AnswersItsFeatures_EachEnumeratedOnce()
    {
        var connection = Accepted();
        IFeatureCollection features = connection.Features;
        Type[] own =
        [
            typeof(IConnectionIdFeature), typeof(IConnectionTransportFeature), typeof(IConnectionItemsFeature),
            typeof(IConnectionLifetimeFeature), typeof(IConnectionEndPointFeature), typeof(IMemoryPoolFeature),
            typeof(IUnixPeerCredentialsFeature), typeof(ISendFileFeature),
        ];
        Assert.All(own.Where(type => type != typeof(ISendFileFeature)), type => Assert.Same(connection, features[type]));
        Assert.IsType<SendFileWriter>(features.Get<ISendFileFeature>()); // the SendFile feature answers it for the connection
        Assert.NotNull(features.Get<IUnixFileDescriptorsFeature>());
        Assert.Null(features.Get<IUnixMessageFeature>()); // a stream connection does not frame messages
        Assert.Null(features.Get<IConnectionHeartbeatFeature>());

        var keys = features.Select(pair => pair.Key).ToArray();
        Assert.Equal(keys.Distinct(), keys);
        Assert.Equal([.. own, typeof(IUnixFileDescriptorsFeature)], keys);
        Assert.All(features, pair => Assert.Same(features[pair.Key], pair.Value));
    }

    [Fact]
    public void AConnectionOfAnEndpointThatReceivesNoDescriptors_HasNoDescriptorFeature()
    {
        IFeatureCollection features = _connections.Create(out _, receiveDescriptors: false).Features;
        Assert.Null(features.Get<IUnixFileDescriptorsFeature>());
        Assert.DoesNotContain(features, pair => pair.Key == typeof(IUnixFileDescriptorsFeature));
    }

    [Fact]
    public void WithoutCredentialsOrSendFile_ThoseFeaturesAreAbsent_UntilSomeoneSetsThem()
    {
        var connection = _connections.Create(out _);
        IFeatureCollection features = connection.Features;
        Assert.Null(features.Get<IUnixPeerCredentialsFeature>());
        Assert.Null(features.Get<ISendFileFeature>());
        Assert.DoesNotContain(features, pair => pair.Key == typeof(IUnixPeerCredentialsFeature) || pair.Key == typeof(ISendFileFeature));

        var credentials = new Credentials();
        features.Set<IUnixPeerCredentialsFeature>(credentials);
        Assert.Same(credentials, features.Get<IUnixPeerCredentialsFeature>());
        Assert.Single(features, pair => pair.Key == typeof(IUnixPeerCredentialsFeature));

        features.Set<IUnixPeerCredentialsFeature>(null);
        Assert.Null(features.Get<IUnixPeerCredentialsFeature>());
        Assert.DoesNotContain(features, pair => pair.Key == typeof(IUnixPeerCredentialsFeature));
    }

    [Fact]
    public void FeaturesAnsweredFromFields_CanBeReplacedRemovedAndRestored()
    {
        var connection = Accepted();
        IFeatureCollection features = connection.Features;
        var descriptors = features.Get<IUnixFileDescriptorsFeature>();
        var count = features.Count();

        var revision = features.Revision;
        var credentials = new Credentials();
        features.Set<IUnixPeerCredentialsFeature>(credentials);
        Assert.NotEqual(revision, features.Revision);
        Assert.Same(credentials, features.Get<IUnixPeerCredentialsFeature>());
        Assert.Equal(count, features.Count());
        Assert.Same(credentials, Assert.Single(features, pair => pair.Key == typeof(IUnixPeerCredentialsFeature)).Value);

        revision = features.Revision;
        features.Set<ISendFileFeature>(null);
        features.Set<IUnixFileDescriptorsFeature>(null);
        features.Set<IConnectionIdFeature>(null);
        features.Set<IConnectionIdFeature>(null); // removing twice is removing once
        Assert.NotEqual(revision, features.Revision);
        Assert.Null(features.Get<ISendFileFeature>());
        Assert.Null(features.Get<IUnixFileDescriptorsFeature>());
        Assert.Null(features.Get<IConnectionIdFeature>());
        Assert.Equal(count - 3, features.Count());

        features.Set<IUnixPeerCredentialsFeature>(connection);
        features.Set(descriptors);
        features.Set<IConnectionIdFeature>(new Id("replaced"));
        Assert.Same(connection, features.Get<IUnixPeerCredentialsFeature>());
        Assert.Same(descriptors, features.Get<IUnixFileDescriptorsFeature>());
        Assert.Equal("replaced", features.Get<IConnectionIdFeature>()!.ConnectionId);
        Assert.Equal(count - 1, features.Count());
    }

    [Fact]
    public void KestrelsFeaturesAndOthers_SetReplaceRemove_BehaveLikeAFeatureCollection()
    {
        IFeatureCollection features = _connections.Create(out _).Features;
        var count = features.Count();
        var revision = features.Revision;

        var heartbeat = new Heartbeat();
        features.Set<IConnectionHeartbeatFeature>(heartbeat);
        features[typeof(string)] = "other";
        Assert.NotEqual(revision, features.Revision);
        Assert.Same(heartbeat, features.Get<IConnectionHeartbeatFeature>());
        Assert.Equal("other", features[typeof(string)]);
        Assert.Equal(count + 2, features.Count());

        features.Set<IConnectionHeartbeatFeature>(new Heartbeat());
        features[typeof(string)] = "replaced";
        Assert.NotSame(heartbeat, features.Get<IConnectionHeartbeatFeature>());
        Assert.Equal("replaced", features[typeof(string)]);
        Assert.Equal(count + 2, features.Count());

        features.Set<IConnectionHeartbeatFeature>(null);
        features[typeof(string)] = null;
        Assert.Null(features.Get<IConnectionHeartbeatFeature>());
        Assert.Null(features[typeof(string)]);
        Assert.Equal(count, features.Count());
    }

    [Fact]
    public void KestrelsFeatures_SharingOneObject_CanStillBeSetApart()
    {
        IFeatureCollection features = _connections.Create(out _).Features;
        var kestrelConnection = new Heartbeat();
        features[typeof(IConnectionHeartbeatFeature)] = kestrelConnection;
        features[typeof(IConnectionCompleteFeature)] = kestrelConnection;
        features[typeof(IConnectionLifetimeNotificationFeature)] = kestrelConnection;

        var other = new Heartbeat();
        features[typeof(IConnectionHeartbeatFeature)] = other;
        Assert.Same(other, features[typeof(IConnectionHeartbeatFeature)]);
        Assert.Same(kestrelConnection, features[typeof(IConnectionCompleteFeature)]);

        features[typeof(IConnectionCompleteFeature)] = null;
        features[typeof(IConnectionLifetimeNotificationFeature)] = null;
        features[typeof(IConnectionCompleteFeature)] = other;
        Assert.Same(other, features[typeof(IConnectionCompleteFeature)]);
        Assert.Null(features[typeof(IConnectionLifetimeNotificationFeature)]);
        Assert.Equal(2, features.Count(pair => pair.Value == other));
        Assert.DoesNotContain(features, pair => pair.Value == kestrelConnection);
    }

    [Fact]
    public void ManyFeatures_GrowBeyondTheFirstArray()
    {
        IFeatureCollection features = _connections.Create(out _).Features;
        var count = features.Count();
        var types = typeof(IFeatureCollection).Assembly.GetExportedTypes().Where(t => t.IsInterface).Take(40).ToArray();
        foreach (var type in types)
        {
            features[type] = type.Name;
        }

        Assert.All(types, type => Assert.Equal(type.Name, features[type]));
        Assert.Equal(count + types.Length, features.Count());
    }

    /// <summary>Any sequence of sets answers as a dictionary that started with the connection's own features would.</summary>
    [Fact]
    public void AnySequenceOfSets_AnswersAsAPlainCollectionWould()
    {
        var random = new Random(9);
        for (var round = 0; round < 50; round++)
        {
            var connection = Accepted();
            IFeatureCollection features = connection.Features;
            var model = features.ToDictionary(pair => pair.Key, pair => pair.Value);
            var initial = new Dictionary<Type, object>(model);
            var kestrelConnection = new object(); // as Kestrel does: one object for all of its features
            Type[] keys =
            [
                .. initial.Keys, typeof(IUnixMessageFeature), typeof(IConnectionHeartbeatFeature), typeof(IConnectionCompleteFeature),
                typeof(IConnectionLifetimeNotificationFeature), typeof(string), typeof(int), typeof(Uri),
            ];
            for (var step = 0; step < 40; step++)
            {
                var key = keys[random.Next(keys.Length)];
                object? value = random.Next(3) switch
                {
                    0 => null,
                    1 => initial.GetValueOrDefault(key) ?? kestrelConnection,
                    _ => new object(),
                };
                var revision = features.Revision;
                features[key] = value;
                if (value is null)
                {
                    model.Remove(key);
                }
                else
                {
                    model[key] = value;
                }

                Assert.NotEqual(revision, features.Revision);
                Assert.All(keys, k => Assert.Same(model.GetValueOrDefault(k), features[k]));
                var listed = features.ToList();
                Assert.Equal(listed.Count, listed.Select(pair => pair.Key).Distinct().Count());
                Assert.Equal(model.OrderBy(pair => pair.Key.FullName), listed.OrderBy(pair => pair.Key.FullName));
            }
        }
    }
}
