using System.Text;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Listener;

/// <summary>
/// Descriptor and thread counts of this process: run alone (no other test may open sockets meanwhile),
/// after every parallel test class has finished.
/// </summary>
[CollectionDefinition(nameof(ProcessResourcesCollection), DisableParallelization = true)]
public sealed class ProcessResourcesCollection;

[Collection(nameof(ProcessResourcesCollection))]
public class ResourceTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // Small slack for descriptors the runtime opens lazily on its own (e.g. a timer or diagnostics pipe).
    private const int FdTolerance = 3;

    public static TheoryData<bool> SocketKinds => new() { false, true };

    [Theory]
    [MemberData(nameof(SocketKinds))]
    public async Task Connections_1000Closed_FdCountReturnsToBaseline(bool seqpacket)
    {
        using var paths = new TempPaths();
        var address = new ServerAddress(paths.SocketPath(), seqpacket);
        await using var host = await SampleHost.StartAsync(address);

        // Warm up: the first connections create pools, timers and thread-pool threads that stay.
        await RunConnectionsAsync(address, 20, parallel: 4);
        Assert.True(await Poll.UntilAsync(() => host.Connections.Active == 0), "warm-up connections did not end");
        await Task.WhenAll(host.Connections.All.Select(c => c.ClosedFired.Task)).DefaultTimeout();
        var baseline = ProcessResources.OpenFds();
        var baselineKinds = ProcessResources.TransportKinds();

        await RunConnectionsAsync(address, 1000, parallel: 16);

        // Every server-side connection ended and fired ConnectionClosed: the transport closed every socket.
        Assert.Equal(1020, host.Connections.Count);
        await Task.WhenAll(host.Connections.All.Select(c => c.ClosedFired.Task)).Timeout(TimeSpan.FromSeconds(60));
        var returned = await Poll.UntilAsync(() => ProcessResources.OpenFds() <= baseline + FdTolerance);
        var now = ProcessResources.OpenFds();
        output.WriteLine($"fds: baseline {baseline}, after 1000 connections {now}");
        Assert.True(returned, $"fd count {now} did not return to baseline {baseline} (+{FdTolerance}): {ProcessResources.FdListing()}");
        // Not one socket, epoll or eventfd more than before the 1,000 connections.
        Assert.True(await Poll.UntilAsync(() => ProcessResources.TransportKindsAtMost(baselineKinds)),
            $"sockets/epolls/eventfds {ProcessResources.TransportKinds()} did not return to {baselineKinds}");
    }

    public static TheoryData<bool, bool> SocketKindsAndTransports => new()
    {
        { false, true }, { true, true },
        { false, false }, // Kestrel's Sockets transport: the behaviour to match
    };

    [Theory]
    [MemberData(nameof(SocketKindsAndTransports))]
    public async Task Clients200Vanish_WhileHandlersWait_AllCancelled_FdsReturnToBaseline(bool seqpacket, bool native)
    {
        const int clients = 200;
        using var paths = new TempPaths();
        var address = new ServerAddress(paths.SocketPath(), seqpacket);
        await using var host = await SampleHost.StartAsync(address, native);
        await RunConnectionsAsync(address, 20, parallel: 4);
        Assert.True(await Poll.UntilAsync(() => host.Connections.Active == 0), "warm-up connections did not end");
        await Task.WhenAll(host.Connections.All.Select(c => c.ClosedFired.Task)).DefaultTimeout();
        var baselineKinds = ProcessResources.TransportKinds();

        var key = TestPaths.Hex8();
        var waits = host.Hooks.WaitsFor(key);
        var sockets = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => UnixClient.ConnectSocketAsync(address))).DefaultTimeout();
        foreach (var socket in sockets)
        {
            // The handler would wait ten minutes: only the client's leaving can end it within the test.
            await socket.SendAsync(RawHttpReader.Get($"/wait/600?key={key}")).DefaultTimeout();
        }
        Assert.True(await Poll.UntilAsync(() => waits.Started == clients), $"{waits.Started} of {clients} handlers started");
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        Assert.True(await Poll.UntilAsync(() => waits.Aborted == clients), $"{waits.Aborted} of {clients} handlers saw RequestAborted");
        Assert.True(await Poll.UntilAsync(() => host.Connections.Active == 0), $"{host.Connections.Active} connections still open");
        // The server's 200 sockets are closed, not just forgotten (the clients' own are closed above).
        Assert.True(await Poll.UntilAsync(() => ProcessResources.TransportKindsAtMost(baselineKinds)),
            $"sockets/epolls/eventfds {ProcessResources.TransportKinds()} did not return to {baselineKinds}");
    }

    [Fact]
    public async Task GracefulShutdown_InFlightRequestCompletes_SocketFileRemoved_FdsAndThreadsReleased()
    {
        using var paths = new TempPaths();
        // A first host started and stopped, so what the runtime opens once and keeps is in the baseline.
        var warmPath = paths.SocketPath();
        var warm = await SampleHost.StartAsync(new ServerAddress(warmPath));
        using (var client = UnixClient.CreateHttpClient(new ServerAddress(warmPath)))
        {
            await client.GetStringAsync("/plaintext").DefaultTimeout();
        }
        await warm.StopAsync();
        Assert.True(await Poll.UntilAsync(() => ProcessResources.IoThreads() == 0), "I/O threads of the warm-up host did not end");
        var baseline = ProcessResources.OpenFds();
        var baselineKinds = ProcessResources.TransportKinds();

        var path = paths.SocketPath();
        // Four loops: a leaked epoll/eventfd pair per loop would be far above the tolerance.
        var host = await SampleHost.StartAsync(HostSpec.For(new ServerAddress(path)) with { TransportOptions = o => o.IOThreadCount = 4 });
        try
        {
            Assert.Equal(4, ProcessResources.IoThreads());
            Task stopping;
            await using (var stream = await UnixClient.ConnectAsync(new ServerAddress(path)))
            {
                await stream.WriteAsync(RawHttpReader.Get("/test/slow")).DefaultTimeout();
                await host.Hooks.SlowStarted.Task.DefaultTimeout();

                // Stop while the response is half sent; the host waits for it.
                stopping = host.StopAsync();
                host.Hooks.ReleaseSlow.TrySetResult();

                var response = await new RawHttpReader(stream).ReadResponseAsync().DefaultTimeout();
                Assert.NotNull(response);
                Assert.Equal(200, response.Status);
                Assert.Equal("first\nsecond\n", response.BodyText);
                await stopping.DefaultTimeout();
            }

            // StopAsync has disposed the listener and the loops: their epoll and eventfd descriptors are
            // closed now, not whenever a finalizer runs, so they are checked at once, without waiting.
            var afterStop = ProcessResources.TransportKinds();
            Assert.True(afterStop.Epolls <= baselineKinds.Epolls && afterStop.EventFds <= baselineKinds.EventFds,
                $"epolls/eventfds after StopAsync {afterStop} above {baselineKinds}");
            Assert.True(await Poll.UntilAsync(() => ProcessResources.TransportKindsAtMost(baselineKinds)),
                $"sockets/epolls/eventfds {ProcessResources.TransportKinds()} above {baselineKinds}: {ProcessResources.FdListing()}");

            Assert.False(File.Exists(path), "the socket file should be gone after StopAsync");
            Assert.True(await Poll.UntilAsync(() => ProcessResources.IoThreads() == 0), "the transport's I/O threads did not end");
            var returned = await Poll.UntilAsync(() => ProcessResources.OpenFds() <= baseline + FdTolerance);
            var now = ProcessResources.OpenFds();
            output.WriteLine($"fds: baseline {baseline}, after stop {now}");
            Assert.True(returned, $"fd count {now} did not return to baseline {baseline} (+{FdTolerance}): {ProcessResources.FdListing()}");
        }
        finally
        {
            host.Hooks.ReleaseSlow.TrySetResult();
            await host.StopAsync();
        }
    }

    private static async Task RunConnectionsAsync(ServerAddress address, int count, int parallel)
    {
        var request = Encoding.ASCII.GetBytes("GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n");
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (_, _) =>
        {
            await using var stream = await UnixClient.ConnectAsync(address);
            await stream.WriteAsync(request).DefaultTimeout();
            var response = await new RawHttpReader(stream).ReadResponseAsync().DefaultTimeout();
            Assert.Equal("Hello, World!", response?.BodyText);
        }).Timeout(TimeSpan.FromSeconds(120));
    }
}
