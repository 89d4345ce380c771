using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Functional;

/// <summary>
/// A keep-alive connection with nothing buffered holds no pool memory: not for a receive that may
/// find nothing (after a read that filled its block, the next read finds the socket empty), not
/// while the application waits for the next request, not after its response went out.
/// </summary>
public sealed class IdleMemoryTests
{
    [Theory]
    [MemberData(nameof(TransportConnectionTests.SocketKinds), MemberType = typeof(TransportConnectionTests))]
    public async Task ConnectionThatConsumedEverything_HoldsNoPoolMemory_WhileItWaitsForMore(bool seqpacket)
    {
        var pools = new CountingPools();
        await using var server = await TransportServer.StartAsync(seqpacket, pools: pools);
        using var client = await UnixClient.ConnectSocketAsync(server.Address);
        await using var connection = await server.AcceptAsync();

        // Exactly one pool block's worth: the read that fills it is followed by one that finds nothing.
        var request = new byte[4096];
        Random.Shared.NextBytes(request);
        await client.SendAsync(request).DefaultTimeout();
        var input = connection.Transport.Input;
        var received = 0L;
        while (received < request.Length)
        {
            var result = await input.ReadAsync().AsTask().DefaultTimeout();
            received += result.Buffer.Length;
            input.AdvanceTo(result.Buffer.End);
        }
        Assert.Equal(request.Length, received);

        await connection.Transport.Output.WriteAsync(new byte[100]).AsTask().DefaultTimeout();
        var answer = new byte[100];
        var got = 0;
        while (got < answer.Length)
        {
            got += await client.ReceiveAsync(answer.AsMemory(got)).AsTask().DefaultTimeout();
        }

        // Idle as Kestrel leaves it: a read pending for the next request.
        var next = input.ReadAsync();
        Assert.False(next.IsCompleted);
        Assert.True(await Poll.UntilAsync(() => pools.Outstanding == 0), $"{pools.Outstanding} pool blocks still rented by an idle connection");

        // An input edge whose bytes an earlier read already took: the receive finds nothing, and takes nothing.
        await ((Transport.UnixNative.Internal.UnixConnection)connection).DeliverEventsAsync(Transport.UnixNative.Interop.Epoll.EPOLLIN).DefaultTimeout();
        Assert.Equal(0, pools.Outstanding);
        Assert.False(next.IsCompleted);

        // Still served afterwards.
        await client.SendAsync("x"u8.ToArray()).DefaultTimeout();
        var more = await next.AsTask().DefaultTimeout();
        Assert.Equal(1, more.Buffer.Length);
        input.AdvanceTo(more.Buffer.End);
    }

    /// <summary>Pools whose blocks count themselves: rented and not yet returned.</summary>
    private sealed class CountingPools : IMemoryPoolFactory<byte>
    {
        private int _outstanding;

        public int Outstanding => Volatile.Read(ref _outstanding);

        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new Pool(this);

        private sealed class Pool(CountingPools counts) : MemoryPool<byte>
        {
            public override int MaxBufferSize => 4096;

            public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
            {
                Interlocked.Increment(ref counts._outstanding);
                return new Block(counts, new byte[4096]);
            }

            protected override void Dispose(bool disposing)
            {
            }
        }

        private sealed class Block(CountingPools counts, byte[] array) : IMemoryOwner<byte>
        {
            private int _returned;

            public Memory<byte> Memory => array;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _returned, 1) == 0)
                {
                    Interlocked.Decrement(ref counts._outstanding);
                }
            }
        }
    }
}
