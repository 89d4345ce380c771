using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Listener;

/// <summary>
/// Instances starting at once on one path: exactly one binds, the others get AddressInUseException,
/// and nobody unlinks the winner's live socket (before the lock file, a second instance could probe
/// "absent or stale" at the same moment, unlink the first's fresh socket and bind its own).
/// </summary>
public class ConcurrentStartTests
{
    private const int Instances = 8;
    private const int Rounds = 30;

    [Fact]
    public async Task ParallelStarts_SamePath_ExactlyOneWins_OthersAddressInUse_WinnerServes()
    {
        using var paths = new TempPaths();
        for (var round = 0; round < Rounds; round++)
        {
            var path = paths.SocketPath();
            paths.Add(path + ".lock");
            // A stale socket file makes every instance probe, unlink and bind: the widest race.
            MakeStaleSocket(path);

            var factories = Enumerable.Range(0, Instances).Select(_ => CreateFactory()).ToArray();
            // Own threads released together by a barrier: the thread pool would start them one by one.
            using var start = new Barrier(Instances);
            var binds = factories.Select(f => StartOnOwnThread(() =>
            {
                start.SignalAndWait();
                return f.BindAsync(new UnixDomainSocketEndPoint(path)).AsTask().GetAwaiter().GetResult();
            })).ToArray();
            try
            {
                await Task.WhenAll(binds).DefaultTimeout();
            }
            catch (Exception) when (binds.All(b => b.IsCompleted))
            {
                // The losers' exceptions are checked below.
            }

            var winners = binds.Where(b => b.IsCompletedSuccessfully).Select(b => b.Result).ToArray();
            try
            {
                var failures = binds.Where(b => !b.IsCompletedSuccessfully).Select(b => b.Exception!.GetBaseException()).ToArray();
                Assert.Single(winners);
                Assert.All(failures, e => Assert.IsType<AddressInUseException>(e));
                Assert.True(File.Exists(path), "the winner's socket file is there");

                // The winner still serves: a client on the path reaches its accept queue.
                using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await client.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
                var connection = await winners[0].AcceptAsync().AsTask().DefaultTimeout();
                Assert.NotNull(connection);
                await connection.DisposeAsync().AsTask().DefaultTimeout();
            }
            finally
            {
                foreach (var winner in winners)
                {
                    await winner.DisposeAsync().AsTask().DefaultTimeout();
                }
            }
            Assert.False(File.Exists(path), "the socket file is removed on shutdown");
            Assert.False(File.Exists(path + ".lock"), "the lock file is removed on shutdown");
        }
    }

    [Fact]
    public async Task Start_WhileAnotherInstanceRuns_AddressInUse_LockFileNamed()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        paths.Add(path + ".lock");
        await using var first = await CreateFactory().BindAsync(new UnixDomainSocketEndPoint(path)).AsTask().DefaultTimeout();
        // Even with the socket file gone (deleted by hand), a second instance does not bind beside the running one.
        File.Delete(path);
        var error = await Assert.ThrowsAsync<AddressInUseException>(async () => await CreateFactory().BindAsync(new UnixDomainSocketEndPoint(path)));
        Assert.Contains(path + ".lock", error.Message, StringComparison.Ordinal);
    }

    private static Task<T> StartOnOwnThread<T>(Func<T> work)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                result.SetResult(work());
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        }) { IsBackground = true }.Start();
        return result.Task;
    }

    private static void MakeStaleSocket(string path)
    {
        using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        stale.Bind(new UnixDomainSocketEndPoint(path));
        // Closed without listening: connect now gets ECONNREFUSED, and the file stays.
    }

    private static UnixNativeTransportFactory CreateFactory()
        => new(Options.Create(new UnixNativeTransportOptions { IOThreadCount = 1 }), NullLoggerFactory.Instance, new SharedPools());

    private sealed class SharedPools : IMemoryPoolFactory<byte>
    {
        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new NonDisposingPool();

        // The loops dispose their pool; the shared one must outlive them.
        private sealed class NonDisposingPool : MemoryPool<byte>
        {
            public override int MaxBufferSize => Shared.MaxBufferSize;

            public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => Shared.Rent(minBufferSize);

            protected override void Dispose(bool disposing)
            {
            }
        }
    }
}
