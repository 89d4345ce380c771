using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>The transport's ConnectionContext seen directly, without Kestrel in between.</summary>
public sealed class TransportConnectionTests
{
    public static TheoryData<bool> SocketKinds => new() { false, true };

    [Theory]
    [MemberData(nameof(SocketKinds))]
    public async Task Abort_InputEndsWithTheAbortReason_NotBufferedDataAndACleanEnd(bool seqpacket)
    {
        await using var server = await TransportServer.StartAsync(seqpacket);
        using var client = await UnixClient.ConnectSocketAsync(server.Address);
        await using var connection = await server.AcceptAsync();

        await client.SendAsync("hello"u8.ToArray()).DefaultTimeout();
        var input = connection.Transport.Input;
        var first = await input.ReadAsync().AsTask().DefaultTimeout();
        Assert.Equal("hello", Encoding.ASCII.GetString(first.Buffer.ToArray()));
        input.AdvanceTo(first.Buffer.End);
        // More arrives and sits unread in the pipe (or the socket) when the application aborts.
        await client.SendAsync("more"u8.ToArray()).DefaultTimeout();
        Assert.True(await Poll.UntilAsync(() => input.TryRead(out var peek) && KeepUnread(input, peek)), "the second write never arrived");

        var reason = new ConnectionAbortedException("aborted by the test");
        connection.Abort(reason);
        var error = await Assert.ThrowsAsync<ConnectionAbortedException>(async () =>
        {
            while (true)
            {
                var result = await input.ReadAsync().AsTask().DefaultTimeout();
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        });
        Assert.Same(reason, error);
        await connection.ConnectionClosed.WhenCancelled().DefaultTimeout();
    }

    [Theory]
    [MemberData(nameof(SocketKinds))]
    public async Task PeerCloses_ConnectionClosedFires_WhileNobodyReadsTheInput(bool seqpacket)
    {
        await using var server = await TransportServer.StartAsync(seqpacket);
        var client = await UnixClient.ConnectSocketAsync(server.Address);
        var connection = await server.AcceptAsync();
        await client.SendAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray()).DefaultTimeout();
        client.Dispose();
        // As Kestrel's Sockets transport: the peer's end is news for RequestAborted, read or not.
        await connection.ConnectionClosed.WhenCancelled().DefaultTimeout();
        await connection.DisposeAsync().AsTask().DefaultTimeout();
    }

    [Theory]
    [MemberData(nameof(SocketKinds))]
    public async Task PeerShutsDownWriting_InputEnds_ConnectionStaysUpForTheAnswer(bool seqpacket)
    {
        await using var server = await TransportServer.StartAsync(seqpacket);
        using var client = await UnixClient.ConnectSocketAsync(server.Address);
        await using var connection = await server.AcceptAsync();
        await client.SendAsync("request"u8.ToArray()).DefaultTimeout();
        client.Shutdown(SocketShutdown.Send);

        var input = connection.Transport.Input;
        var received = new List<byte>();
        while (true)
        {
            var result = await input.ReadAsync().AsTask().DefaultTimeout();
            received.AddRange(result.Buffer.ToArray());
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }
        Assert.Equal("request", Encoding.ASCII.GetString(received.ToArray()));
        // Half-closed, not gone: the answer still goes out, then the transport closes.
        Assert.False(connection.ConnectionClosed.IsCancellationRequested);
        await connection.Transport.Output.WriteAsync("answer"u8.ToArray()).AsTask().DefaultTimeout();
        await connection.Transport.Output.CompleteAsync().AsTask().DefaultTimeout();
        var buffer = new byte[64];
        Assert.Equal(6, await client.ReceiveAsync(buffer).DefaultTimeout());
        Assert.Equal(0, await client.ReceiveAsync(buffer).DefaultTimeout());
    }

    private static bool KeepUnread(System.IO.Pipelines.PipeReader input, System.IO.Pipelines.ReadResult peek)
    {
        var arrived = peek.Buffer.Length > 0;
        input.AdvanceTo(peek.Buffer.Start, peek.Buffer.End);
        return arrived;
    }
}

/// <summary>One listener of the transport on a fresh path, with its own loops and pool.</summary>
internal sealed class TransportServer : IAsyncDisposable
{
    private readonly IConnectionListener _listener;

    private TransportServer(IConnectionListener listener, ServerAddress address)
    {
        _listener = listener;
        Address = address;
    }

    public ServerAddress Address { get; }

    public static async Task<TransportServer> StartAsync(bool seqpacket, Action<UnixNativeTransportOptions>? configure = null, IMemoryPoolFactory<byte>? pools = null)
    {
        var options = new UnixNativeTransportOptions();
        configure?.Invoke(options);
        var factory = new UnixNativeTransportFactory(Options.Create(options), NullLoggerFactory.Instance, pools ?? new PoolFactory());
        var address = new ServerAddress(TestPaths.SocketPath(), seqpacket);
        var endPoint = seqpacket ? (System.Net.EndPoint)new UnixSeqpacketEndPoint(address.Address) : new UnixDomainSocketEndPoint(address.Address);
        var listener = await factory.BindAsync(endPoint).AsTask().DefaultTimeout();
        return new TransportServer(listener, address);
    }

    public async Task<ConnectionContext> AcceptAsync()
        => await _listener.AcceptAsync().AsTask().DefaultTimeout() ?? throw new InvalidOperationException("The listener stopped.");

    public async ValueTask DisposeAsync()
    {
        await _listener.UnbindAsync().AsTask().DefaultTimeout();
        await _listener.DisposeAsync().AsTask().DefaultTimeout();
        TestPaths.DeleteQuietly(Address.Address);
    }

    private sealed class PoolFactory : IMemoryPoolFactory<byte>
    {
        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new EventLoopTestsPool();
    }

    private sealed class EventLoopTestsPool : MemoryPool<byte>
    {
        public override int MaxBufferSize => 4096;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => Shared.Rent(minBufferSize < 0 ? 4096 : minBufferSize);

        protected override void Dispose(bool disposing)
        {
        }
    }
}

internal static class CancellationTokenExtensions
{
    public static Task WhenCancelled(this CancellationToken token)
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => cancelled.TrySetResult());
        return cancelled.Task;
    }
}
