using Grpc.Core;
using GrpcOverUds;

namespace Transport.UnixNative.Ecosystem.Tests.Grpc;

/// <summary>Grpc.Net.Client over our client handler against samples/GrpcOverUds on our transport.</summary>
[Collection(GrpcServerCollection.Name)]
public sealed class GrpcOverUdsTests(GrpcServerFixture server)
{
    private static DateTime Deadline => DateTime.UtcNow.AddSeconds(30);

    [Theory]
    [InlineData("path")]
    [InlineData("abstract")]
    public async Task SayHello_AnswersHelloName(string kind)
    {
        using var channel = GrpcUnixChannel.Create(server.Address(kind));
        var client = new Greeter.GreeterClient(channel);

        var reply = await client.SayHelloAsync(new HelloRequest { Name = "Ada" }, deadline: Deadline).ResponseAsync.DefaultTimeout();

        Assert.Equal("Hello Ada", reply.Message);
    }

    [Theory]
    [InlineData("path")]
    [InlineData("abstract")]
    public async Task ServerStreaming_SendsEveryReplyInOrder(string kind)
    {
        using var channel = GrpcUnixChannel.Create(server.Address(kind));
        var client = new Greeter.GreeterClient(channel);

        using var call = client.SayHelloStream(new HelloStreamRequest { Name = "Bo", Count = 50 }, deadline: Deadline);
        var replies = new List<string>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            replies.Add(call.ResponseStream.Current.Message);
        }

        Assert.Equal(Enumerable.Range(1, 50).Select(i => $"Hello Bo ({i}/50)"), replies);
    }

    [Fact]
    public async Task Bidirectional_AnswersEachRequestBeforeTheNextIsSent()
    {
        using var channel = GrpcUnixChannel.Create(server.Path);
        var client = new Greeter.GreeterClient(channel);

        using var call = client.Chat(deadline: Deadline);
        // Lock-step: each reply arrives while the request stream is still open, so it is really bidirectional.
        for (var i = 0; i < 20; i++)
        {
            await call.RequestStream.WriteAsync(new HelloRequest { Name = $"n{i}" });
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            Assert.Equal($"Hello n{i}", call.ResponseStream.Current.Message);
        }
        await call.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Deadline_ExpiresWhileTheServerWaitsForRequests()
    {
        using var channel = GrpcUnixChannel.Create(server.Path);
        var client = new Greeter.GreeterClient(channel);

        // The server reads the request stream, which never gets a message: only the deadline ends the call.
        using var call = client.Chat(deadline: DateTime.UtcNow.AddMilliseconds(300));
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        // The connection survives: the next call on the channel works.
        Assert.Equal("Hello again", (await client.SayHelloAsync(new HelloRequest { Name = "again" }, deadline: Deadline).ResponseAsync.DefaultTimeout()).Message);
    }

    [Fact]
    public async Task Cancellation_StopsAnEndlessServerStream()
    {
        using var channel = GrpcUnixChannel.Create(server.Abstract);
        var client = new Greeter.GreeterClient(channel);
        using var cancel = new CancellationTokenSource();

        using var call = client.SayHelloStream(new HelloStreamRequest { Name = "Cy", Count = int.MaxValue }, deadline: Deadline, cancellationToken: cancel.Token);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal($"Hello Cy (1/{int.MaxValue})", call.ResponseStream.Current.Message);
        cancel.Cancel();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
            {
            }
        });
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.Equal("Hello after", (await client.SayHelloAsync(new HelloRequest { Name = "after" }, deadline: Deadline).ResponseAsync.DefaultTimeout()).Message);
    }

    [Fact]
    public async Task ConnectivityApi_IsUnavailableOverAConnectCallback()
    {
        // The caveat of AspNetCore.Docs #35871: a handler with a ConnectCallback gets no connectivity
        // state (and no client-side load balancing); calls themselves work, as the tests above show.
        using var channel = GrpcUnixChannel.Create(server.Path);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => channel.ConnectAsync().DefaultTimeout());

        Assert.Contains("load balancing or connectivity state", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HundredConcurrentCalls_AllAnswerCorrectly()
    {
        using var channel = GrpcUnixChannel.Create(server.Path);
        var client = new Greeter.GreeterClient(channel);

        // 100 at once is Kestrel's default stream limit per connection; the channel may open a second one.
        var calls = Enumerable.Range(0, 100)
            .Select(async i => (i, (await client.SayHelloAsync(new HelloRequest { Name = $"c{i}" }, deadline: Deadline).ResponseAsync.DefaultTimeout()).Message))
            .ToArray();
        var replies = await Task.WhenAll(calls).DefaultTimeout();

        Assert.All(replies, r => Assert.Equal($"Hello c{r.i}", r.Message));
    }
}
