using Grpc.Core;

namespace GrpcOverUds;

/// <summary>The Greeter service of Protos/greet.proto.</summary>
internal sealed class GreeterService : Greeter.GreeterBase
{
    public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
        => Task.FromResult(new HelloReply { Message = $"Hello {request.Name}" });

    public override async Task SayHelloStream(HelloStreamRequest request, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
    {
        for (var i = 1; i <= request.Count; i++)
        {
            // The token fires when the client cancels or its deadline passes.
            context.CancellationToken.ThrowIfCancellationRequested();
            await responseStream.WriteAsync(new HelloReply { Message = $"Hello {request.Name} ({i}/{request.Count})" }, context.CancellationToken);
        }
    }

    public override async Task Chat(IAsyncStreamReader<HelloRequest> requestStream, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
    {
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            await responseStream.WriteAsync(new HelloReply { Message = $"Hello {request.Name}" }, context.CancellationToken);
        }
    }
}
