using Microsoft.Extensions.DependencyInjection;
using Transport.UnixNative.Client;

namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>Our client as an app gets it from IHttpClientFactory (<c>UseUnixSocket</c>), against our server and Kestrel's Sockets transport.</summary>
public sealed class HttpClientFactoryTests
{
    [Theory]
    [InlineData(Backend.Ours)]
    [InlineData(Backend.OursAbstract)]
    [InlineData(Backend.Sockets)]
    public async Task NamedClient_UseUnixSocket_PooledRequests_Upload_Sse(Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend);
        var services = new ServiceCollection();
        services.AddHttpClient("app", c => c.BaseAddress = new Uri("http://localhost"))
            .UseUnixSocket(server.Address)
            .UseSocketsHttpHandler((handler, _) => handler.PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5));
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("app");

        Assert.True(await HttpChecks.ManyRequestsAsync(client) <= 2, "the factory's handler did not pool connections");
        await HttpChecks.UploadAsync(client);
        await HttpChecks.ServerSentEventsAsync(client, HttpChecks.ReleaseOver(client));
    }
}
