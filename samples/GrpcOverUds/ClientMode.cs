using Grpc.Core;

namespace GrpcOverUds;

/// <summary><c>client ADDRESS NAME</c>: calls SayHello over the unix socket and prints the reply's message.</summary>
internal static class ClientMode
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args is not [var address, var name])
        {
            Console.Error.WriteLine("usage: GrpcOverUds client ADDRESS NAME   (ADDRESS: /absolute/path or @abstract-name)");
            return 2;
        }
        try
        {
            using var channel = GrpcUnixChannel.Create(address);
            var client = new Greeter.GreeterClient(channel);
            var reply = await client.SayHelloAsync(new HelloRequest { Name = name }, deadline: DateTime.UtcNow.AddSeconds(30));
            Console.WriteLine(reply.Message);
            return 0;
        }
        catch (RpcException e)
        {
            // The status detail carries the transport's message (socket, errno) when connecting failed.
            Console.Error.WriteLine($"SayHello over {address} failed: {e.StatusCode}: {e.Status.Detail}");
            return 1;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"SayHello over {address} failed: {e.Message}");
            return 1;
        }
    }
}
