using System.Buffers;
using System.IO.Pipelines;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Tests.Core.Connection;

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
        await ((Transport.UnixNative.Core.Connection.UnixConnection)connection).DeliverEventsAsync(Transport.UnixNative.Interop.Epoll.EPOLLIN).DefaultTimeout();
        Assert.Equal(0, pools.Outstanding);
        Assert.False(next.IsCompleted);

        // Still served afterwards.
        await client.SendAsync("x"u8.ToArray()).DefaultTimeout();
        var more = await next.AsTask().DefaultTimeout();
        Assert.Equal(1, more.Buffer.Length);
        input.AdvanceTo(more.Buffer.End);
    }

    [Theory]
    [MemberData(nameof(TransportConnectionTests.SocketKinds), MemberType = typeof(TransportConnectionTests))]
    public async Task IdleConnections_AfterOneExchangeEach_KeepNoSendStateMachine(bool seqpacket)
    {
        const int Connections = 16;
        await using var server = await TransportServer.StartAsync(seqpacket);
        var clients = new List<System.Net.Sockets.Socket>();
        var connections = new List<ConnectionContext>();
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                var client = await UnixClient.ConnectSocketAsync(server.Address);
                clients.Add(client);
                var connection = await server.AcceptAsync();
                connections.Add(connection);

                await client.SendAsync("ping"u8.ToArray()).DefaultTimeout();
                var input = connection.Transport.Input;
                var request = await input.ReadAsync().AsTask().DefaultTimeout();
                Assert.Equal(4, request.Buffer.Length);
                input.AdvanceTo(request.Buffer.End);
                await connection.Transport.Output.WriteAsync("pong"u8.ToArray()).AsTask().DefaultTimeout();
                var answer = new byte[4];
                var got = 0;
                while (got < answer.Length)
                {
                    got += await client.ReceiveAsync(answer.AsMemory(got)).AsTask().DefaultTimeout();
                }
                Assert.Equal("pong"u8.ToArray(), answer);
            }

            // Whether the send path is still between its last send and its next wait, or already waiting,
            // nothing of it may be an async state machine: that is 200 bytes per idle connection (issue 9).
            foreach (var connection in connections)
            {
                var machines = ReachableStateMachines.From((UnixConnection)connection);
                Assert.True(machines.Count == 0, $"{connection.ConnectionId} keeps {string.Join(", ", machines)}");
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync().AsTask().DefaultTimeout();
            }
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>
    /// The transport's async state machines (boxed, i.e. suspended or running) that one connection's
    /// object graph reaches: its pipes, their pending continuations, its features. The event loop,
    /// schedulers, pools, loggers and other connections it shares are not walked.
    /// </summary>
    private static class ReachableStateMachines
    {
        public static List<string> From(UnixConnection root)
        {
            var found = new List<string>();
            var seen = new HashSet<object>(ReferenceEqualityComparer.Instance) { root };
            var pending = new Stack<object>();
            pending.Push(root);
            while (pending.TryPop(out var value))
            {
                var type = value.GetType();
                if (value is Task && StateMachineOf(type) is { } machine)
                {
                    found.Add(machine.Name);
                    continue;
                }
                if (value is Array array)
                {
                    if (!type.GetElementType()!.IsPrimitive)
                    {
                        foreach (var item in array)
                        {
                            Visit(item);
                        }
                    }
                    continue;
                }
                for (var declaring = type; declaring is not null; declaring = declaring.BaseType)
                {
                    foreach (var field in declaring.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                    {
                        if (!field.FieldType.IsPointer && !field.FieldType.IsPrimitive && !field.FieldType.IsEnum)
                        {
                            Visit(field.GetValue(value));
                        }
                    }
                }
            }
            return found;

            void Visit(object? value)
            {
                if (value is null or string or MemberInfo or Thread or PipeScheduler or MemoryPool<byte> or ILogger
                    or ExecutionContext or SynchronizationContext or Transport.UnixNative.Core.Diagnostics.ListenerMetrics
                    || (value is UnixConnection && !ReferenceEquals(value, root)))
                {
                    return;
                }
                // A struct is a fresh box each time: it cannot close a cycle, so it is walked without the seen set.
                if (value.GetType().IsValueType || seen.Add(value))
                {
                    pending.Push(value);
                }
            }
        }

        private static Type? StateMachineOf(Type box)
            => box.IsGenericType
                ? box.GetGenericArguments().FirstOrDefault(a => typeof(IAsyncStateMachine).IsAssignableFrom(a) && a.Assembly == typeof(UnixConnection).Assembly)
                : null;
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
