using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Listener;

public class ShutdownTests
{
    public static TheoryData<bool> SocketKinds => new() { false, true };

    /// <summary>
    /// A client that stops reading leaves the server's send blocked on a full socket buffer. When the
    /// shutdown timeout expires Kestrel aborts the connection: the transport must then give up the
    /// blocked send and close the socket, or StopAsync would never finish.
    /// </summary>
    [Theory]
    [MemberData(nameof(SocketKinds))]
    public async Task Stop_ClientNotReading_AbortsBlockedSendAndCompletes(bool seqpacket)
    {
        using var paths = new TempPaths();
        var address = new ServerAddress(paths.SocketPath(), seqpacket);
        var host = await SampleHost.StartAsync(HostSpec.For(address) with { ShutdownTimeout = TimeSpan.FromSeconds(1) });
        try
        {
            await using var stream = await UnixClient.ConnectAsync(address);
            await stream.WriteAsync(RawHttpReader.Get("/bytes/100000000")).DefaultTimeout();
            var reader = new RawHttpReader(stream);
            var head = await reader.ReadHeadAsync().DefaultTimeout();
            Assert.Equal(200, head?.Status);
            var tracked = Assert.Single(host.Connections.All);

            // Stop reading: the server fills the socket buffers and waits for room.
            await host.StopAsync();

            await tracked.ClosedFired.Task.DefaultTimeout();
            await tracked.Ended.Task.DefaultTimeout();
            Assert.False(File.Exists(address.Address));
            // The client drains what was buffered, then sees the end long before 100 MB.
            long received;
            try
            {
                received = await reader.ReadToEndAsync().DefaultTimeout();
            }
            catch (IOException)
            {
                received = -1; // a reset is an acceptable end too
            }
            Assert.True(received < 100_000_000, $"received {received} bytes");
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary>
    /// Shutdown while 32 connections send at full speed (half of the clients read, half do not): the
    /// loops stop while send loops may be inside sendmsg on other threads. Nothing may fail on an I/O
    /// thread, every connection ends, and what the readers got is the response's bytes and nothing else
    /// (pipe memory handed back while the kernel still read it would show up as foreign bytes).
    /// </summary>
    [Theory]
    [MemberData(nameof(SocketKinds))]
    public async Task Stop_WhileManyConnectionsSend_NoLoopErrors_EveryConnectionEnds_BytesIntact(bool seqpacket)
    {
        const int connections = 32;
        using var paths = new TempPaths();
        var address = new ServerAddress(paths.SocketPath(), seqpacket);
        var host = await SampleHost.StartAsync(HostSpec.For(address) with
        {
            ShutdownTimeout = TimeSpan.FromSeconds(1),
            TransportOptions = o => o.IOThreadCount = 2,
        });
        var streams = new List<Stream>();
        try
        {
            var readers = new List<Task>();
            var started = new List<Task>();
            for (var i = 0; i < connections; i++)
            {
                var stream = await UnixClient.ConnectAsync(address);
                streams.Add(stream);
                await stream.WriteAsync(RawHttpReader.Get("/bytes/1000000000")).DefaultTimeout();
                var reader = new RawHttpReader(stream);
                var head = reader.ReadHeadAsync();
                started.Add(head);
                if (i % 2 == 0)
                {
                    readers.Add(ReadXsUntilEndAsync(reader, head));
                }
            }
            await Task.WhenAll(started).DefaultTimeout();
            Assert.Equal(connections, host.Connections.Count);

            await host.StopAsync();

            await Task.WhenAll(host.Connections.All.Select(c => c.Ended.Task)).DefaultTimeout();
            await Task.WhenAll(host.Connections.All.Select(c => c.ClosedFired.Task)).DefaultTimeout();
            await Task.WhenAll(readers).DefaultTimeout();
            Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name is "LoopError" or "ConnectionError" || e.Exception is ObjectDisposedException);
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
            await host.StopAsync();
        }
    }

    private static async Task ReadXsUntilEndAsync(RawHttpReader reader, Task<(int Status, Dictionary<string, string> Headers)?> head)
    {
        Assert.Equal(200, (await head)?.Status);
        try
        {
            await reader.ReadBodyAsync(1_000_000_000, chunk =>
            {
                var foreign = chunk.Span.IndexOfAnyExcept((byte)'x');
                Assert.True(foreign < 0, $"a byte {(foreign < 0 ? 0 : chunk.Span[foreign])} that is not the response's");
            });
        }
        catch (IOException)
        {
            // The connection ended (shutdown) before the body did: expected.
        }
    }

    /// <summary>
    /// Idle keep-alive connections must not hold up shutdown: Kestrel ends them when asked to stop, and
    /// the transport closes them. (Were they left open, StopAsync would wait the whole 60 s shutdown timeout.)
    /// </summary>
    [Theory]
    [MemberData(nameof(SocketKinds))]
    public async Task Stop_50IdleKeepAliveConnections_ClosedAndStopCompletes(bool seqpacket)
    {
        using var paths = new TempPaths();
        var address = new ServerAddress(paths.SocketPath(), seqpacket);
        var host = await SampleHost.StartAsync(HostSpec.For(address) with { ShutdownTimeout = TimeSpan.FromSeconds(60) });
        var streams = new List<Stream>();
        try
        {
            for (var i = 0; i < 50; i++)
            {
                var stream = await UnixClient.ConnectAsync(address);
                streams.Add(stream);
                await stream.WriteAsync(RawHttpReader.Get("/plaintext")).DefaultTimeout();
            }
            var readers = streams.Select(s => new RawHttpReader(s)).ToList();
            foreach (var reader in readers)
            {
                Assert.Equal("Hello, World!", (await reader.ReadResponseAsync().DefaultTimeout())?.BodyText);
            }
            Assert.Equal(50, host.Connections.Active);

            await host.StopAsync(); // bounded by DefaultTimeout (30 s), half the shutdown timeout

            Assert.Equal(0, host.Connections.Active);
            await Task.WhenAll(host.Connections.All.Select(c => c.ClosedFired.Task)).DefaultTimeout();
            foreach (var reader in readers)
            {
                Assert.Equal(0, await reader.ReadToEndAsync().DefaultTimeout());
            }
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
            await host.StopAsync();
        }
    }
}
