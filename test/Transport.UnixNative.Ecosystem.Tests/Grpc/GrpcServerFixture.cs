using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Ecosystem.Tests.Grpc;

/// <summary>One samples/GrpcOverUds process for every gRPC test class.</summary>
[CollectionDefinition(Name)]
public sealed class GrpcServerCollection : ICollectionFixture<GrpcServerFixture>
{
    public const string Name = "GrpcOverUds server";
}

/// <summary>samples/GrpcOverUds as a process, serving a socket path and an abstract name at once.</summary>
public sealed class GrpcServerFixture : IAsyncLifetime
{
    private ExternalProcess? _server;

    public string Path { get; } = TestPaths.SocketPath();

    public string Abstract { get; } = "@" + TestPaths.AbstractName();

    public string Address(string kind) => kind == "path" ? Path : Abstract;

    public async Task InitializeAsync()
        => _server = await SampleProcess.StartAsync("GrpcOverUds", "Greeter on ", readyLines: 2, Path, Abstract);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        TestPaths.DeleteQuietly(Path);
    }
}
