using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Tests.Connected;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>One sample-app host per test class, listening on one kind of address.</summary>
public abstract class HostFixture : IAsyncLifetime
{
    public ServerAddress Address { get; private set; } = null!;

    public SampleHost Host { get; private set; } = null!;

    /// <summary>Whether the native transport serves the endpoint (false: Kestrel's Sockets transport).</summary>
    public virtual bool Native => true;

    protected abstract ServerAddress CreateAddress();

    /// <summary>Transport options of this configuration (defaults when null).</summary>
    protected virtual Action<UnixNativeTransportOptions>? TransportOptions => null;

    public async Task InitializeAsync()
    {
        Address = CreateAddress();
        Host = await SampleHost.StartAsync(HostSpec.For(Address, Native) with { TransportOptions = TransportOptions });
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

/// <summary>Application code inline on the I/O threads, and two of them: continuations re-enter the loop.</summary>
public sealed class InlineSchedulingPathFixture : HostFixture
{
    protected override ServerAddress CreateAddress() => new(TestPaths.SocketPath());

    protected override Action<UnixNativeTransportOptions>? TransportOptions => o =>
    {
        o.UnsafePreferInlineScheduling = true;
        o.IOThreadCount = 2;
    };
}

/// <summary>Seqpacket with the smallest read buffer limit: receive pauses and resumes all the time.</summary>
public sealed class SeqpacketSmallBuffersFixture : HostFixture
{
    protected override ServerAddress CreateAddress() => new(TestPaths.SocketPath(), IsSeqpacket: true);

    protected override Action<UnixNativeTransportOptions>? TransportOptions => o =>
    {
        o.MaxReadBufferSize = 1;
        o.MaxWriteBufferSize = 1;
    };
}

public sealed class SocketsTransportPathFixture : HostFixture
{
    public override bool Native => false;

    protected override ServerAddress CreateAddress() => new(TestPaths.SocketPath());
}
