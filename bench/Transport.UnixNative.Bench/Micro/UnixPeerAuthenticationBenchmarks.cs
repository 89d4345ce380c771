using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Transport.UnixNative.Authentication;
using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Core.Loop;

namespace Transport.UnixNative.Bench.Micro;

/// <summary>
/// <c>HttpContext.AuthenticateAsync()</c> with the UnixPeer scheme as the default, the way the
/// authentication middleware calls it once per request: a request with no peer credentials (what
/// the sample costs on Kestrel's Sockets transport: the handler finds none and stops) vs a later
/// request on a connection of ours (the credentials feature is the connection's, so what it
/// caches serves every request after the first). The difference is what peer authentication
/// costs per request.
/// </summary>
[MemoryDiagnoser]
public class UnixPeerAuthenticationBenchmarks
{
    private ServiceProvider _services = null!;
    private NativeSocketPair _pair = null!;
    private EventLoop _loop = null!; // never started: the connection only answers its features here
    private UnixConnection _peer = null!;
    private AuthenticationMiddleware _middleware = null!;

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication(UnixPeerDefaults.AuthenticationScheme).AddUnixPeer();
        _services = services.BuildServiceProvider();
        _pair = new NativeSocketPair(nonBlocking: true);
        _loop = new EventLoop(0, new UnixNativeTransportOptions(), System.Buffers.MemoryPool<byte>.Shared);
        _peer = new UnixConnection(_pair.First, _loop, new System.Net.Sockets.UnixDomainSocketEndPoint("/bench/local"),
            new System.Net.Sockets.UnixDomainSocketEndPoint("/bench/remote"), isPacket: false);
        _peer.SetPeerCredentials(new PeerCredentials(Environment.ProcessId, 0, 0), []);
        _middleware = new AuthenticationMiddleware(static _ => Task.CompletedTask, _services.GetRequiredService<IAuthenticationSchemeProvider>());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        _pair.Dispose();
        _loop.Dispose();
    }

    [Benchmark(Baseline = true, Description = "no peer credentials (NoResult)")]
    public Task<AuthenticateResult> NoCredentials() => AuthenticateAsync(peer: null);

    [Benchmark(Description = "UnixPeer, a connection's later request")]
    public Task<AuthenticateResult> LaterRequest() => AuthenticateAsync(_peer);

    [Benchmark(Description = "UnixPeer, a connection's later request, then User.Identity.Name")]
    public async Task<string?> LaterRequestName()
    {
        var result = await AuthenticateAsync(_peer).ConfigureAwait(false);
        return result.Principal!.Identity!.Name;
    }

    [Benchmark(Description = "AuthenticationMiddleware, no peer credentials")]
    public Task MiddlewareNoCredentials() => InvokeMiddlewareAsync(peer: null);

    [Benchmark(Description = "AuthenticationMiddleware, a connection's later request")]
    public Task MiddlewareLaterRequest() => InvokeMiddlewareAsync(_peer);

    // The whole per-request cost: the middleware also sets User and the authentication features on success.
    private async Task InvokeMiddlewareAsync(IUnixPeerCredentialsFeature? peer)
    {
        await using var scope = _services.CreateAsyncScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        if (peer is not null)
        {
            context.Features.Set(peer);
        }
        await _middleware.Invoke(context).ConfigureAwait(false);
    }

    private async Task<AuthenticateResult> AuthenticateAsync(IUnixPeerCredentialsFeature? peer)
    {
        // Per request, as ASP.NET Core does it: a scope (the handler provider is scoped) and a context.
        await using var scope = _services.CreateAsyncScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        if (peer is not null)
        {
            context.Features.Set(peer);
        }
        return await context.AuthenticateAsync().ConfigureAwait(false);
    }
}
