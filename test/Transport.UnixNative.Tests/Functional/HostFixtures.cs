using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Functional;

/// <summary>One sample-app host per test class, listening on one kind of address.</summary>
public abstract class HostFixture : IAsyncLifetime
{
    public ServerAddress Address { get; private set; } = null!;

    public SampleHost Host { get; private set; } = null!;

    /// <summary>Whether the native transport serves the endpoint (false: Kestrel's Sockets transport).</summary>
    public virtual bool Native => true;

    protected abstract ServerAddress CreateAddress();

    public async Task InitializeAsync()
    {
        Address = CreateAddress();
        Host = await SampleHost.StartAsync(Address, Native);
    }

    public async Task DisposeAsync()
    {
        await Host.StopAsync();
        if (!Address.IsAbstract)
        {
            // The transport removes its socket file; Kestrel's Sockets transport leaves it behind.
            TestPaths.DeleteQuietly(Address.Address);
        }
    }
}

public sealed class StreamPathFixture : HostFixture
{
    protected override ServerAddress CreateAddress() => new(TestPaths.SocketPath());
}

public sealed class StreamAbstractFixture : HostFixture
{
    protected override ServerAddress CreateAddress() => new("@" + TestPaths.AbstractName());
}

public sealed class SeqpacketPathFixture : HostFixture
{
    protected override ServerAddress CreateAddress() => new(TestPaths.SocketPath(), IsSeqpacket: true);
}

public sealed class SocketsTransportPathFixture : HostFixture
{
    public override bool Native => false;

    protected override ServerAddress CreateAddress() => new(TestPaths.SocketPath());
}
