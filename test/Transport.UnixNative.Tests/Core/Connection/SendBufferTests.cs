using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>
/// A stream connection's send buffer grows the first time it fills, so a large body goes out in a
/// few sends instead of waiting for writability every three 64 KiB flushes (docs/benchmarks.md,
/// "Tried and measured per core").
/// </summary>
public sealed class SendBufferTests
{
    // More than the default buffer (~208 KiB) holds, less than the grown one holds even where a stock
    // net.core.wmem_max (208 KiB) caps the growth at twice the default.
    private const int Body = 384 * 1024;

    [Fact]
    public async Task LargeBodyToAPeerNotYetReading_TheKernelHoldsAllOfIt()
    {
        await using var server = await TransportServer.StartAsync(seqpacket: false);
        var client = await UnixClient.ConnectSocketAsync(server.Address);
        await using var connection = await server.AcceptAsync();
        try
        {
            await ReceiveWholeBodyAsync(client, connection.Transport.Output);
        }
        finally
        {
            // Before the connection's disposal, which otherwise waits for a peer that never reads.
            client.Dispose();
        }
    }

    [Fact]
    public void GrownBuffers_AreBoundedProcessWide_AndPlacesComeBack()
    {
        var growth = new SendBufferGrowth(limit: 2);

        Assert.True(growth.TryTake());
        Assert.True(growth.TryTake());
        Assert.False(growth.TryTake()); // a third connection that stops reading keeps the default buffer
        Assert.Equal(2, growth.Grown);

        growth.Return();
        Assert.True(growth.TryTake());
        Assert.Equal(2, growth.Grown);
    }

    private static async Task ReceiveWholeBodyAsync(System.Net.Sockets.Socket client, System.IO.Pipelines.PipeWriter output)
    {
        using var timeout = new CancellationTokenSource(TimeoutExtensions.DefaultTimeoutValue);
        var writing = Task.Run(async () =>
        {
            for (var sent = 0; sent < Body; sent += 64 * 1024)
            {
                output.GetSpan(64 * 1024)[..(64 * 1024)].Fill((byte)(sent / (64 * 1024)));
                output.Advance(64 * 1024);
                await output.FlushAsync(timeout.Token);
            }
        });

        // The default send buffer (~208 KiB) holds about 60 % of it; the grown one all of it.
        Assert.True(await Poll.UntilAsync(() => client.Available >= Body),
            $"The peer's receive queue holds {client.Available} of {Body} bytes while the server still writes.");
        await writing.DefaultTimeout();

        var bytes = new byte[Body];
        var got = 0;
        while (got < Body)
        {
            var n = await client.ReceiveAsync(bytes.AsMemory(got)).AsTask().DefaultTimeout();
            Assert.True(n > 0, $"The connection ended after {got} of {Body} bytes.");
            got += n;
        }
        for (var i = 0; i < Body; i += 64 * 1024)
        {
            Assert.True(bytes[i] == i / (64 * 1024) && bytes[i + 64 * 1024 - 1] == i / (64 * 1024), $"Chunk {i / (64 * 1024)} arrived wrong.");
        }
    }
}
