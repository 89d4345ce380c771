using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Client;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Connected;

/// <summary>Kestrel on one end of a socket pair, HttpClient on the other: no file, no name.</summary>
public sealed class SocketPairTests
{
    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Seqpacket)]
    public async Task KestrelServesOneEnd_HttpClientCallsThroughTheOther_PeerIsThisProcess(SocketType type)
    {
        var (serverEnd, clientEnd) = UnixSocketPair.Create(type);
        await using var app = await StartAsync(serverEnd.SafeHandle);
        serverEnd.Dispose(); // the transport serves its own duplicate
        using var http = new HttpClient(UnixSocketHttpHandler.ForConnectedSocket(clientEnd)) { BaseAddress = new Uri("http://localhost") };

        var first = await http.GetStringAsync("/peer").DefaultTimeout();
        var second = await http.GetStringAsync("/peer").DefaultTimeout(); // the same one connection

        Assert.Equal($"pid:{Environment.ProcessId} uid:{Native.GetUid()} label:null", first);
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task WhenTheOnlyConnectionCloses_TheEndpointIsDone_AndTheHandlerCannotReconnect()
    {
        var (serverEnd, clientEnd) = UnixSocketPair.Create();
        await using var app = await StartAsync(serverEnd.SafeHandle);
        serverEnd.Dispose();
        var handler = UnixSocketHttpHandler.ForConnectedSocket(clientEnd);
        using var http = new HttpClient(handler) { BaseAddress = new Uri("http://localhost") };
        using var closing = new HttpRequestMessage(HttpMethod.Get, "/peer");
        closing.Headers.ConnectionClose = true;

        Assert.StartsWith("pid:", await (await http.SendAsync(closing).DefaultTimeout()).Content.ReadAsStringAsync());
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync("/peer")).DefaultTimeout();
        Assert.Contains("cannot reconnect", error.Message);
    }

    [Fact]
    public void BothEndsAreCloseOnExec_UntilOneIsMadeInheritable()
    {
        var (a, b) = UnixSocketPair.Create(SocketType.Seqpacket);
        using (a)
        using (b)
        {
            Assert.True(Native.IsCloseOnExec(a.SafeHandle));
            Assert.True(Native.IsCloseOnExec(b.SafeHandle));
            UnixSocketPair.MakeInheritable(b);
            Assert.True(Native.IsCloseOnExec(a.SafeHandle));
            Assert.False(Native.IsCloseOnExec(b.SafeHandle));
        }
    }

    [Fact]
    public async Task AListeningOrNonSocketHandle_FailsStartupNamingTheProblem()
    {
        using var file = File.OpenHandle("/proc/self/stat");
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var app = await StartAsync(file);
        }).DefaultTimeout();
        Assert.Contains("not a socket", error.ToString());
    }

    [Fact]
    public async Task ASocketPairConnection_IsSetUpLikeAnAcceptedOne_SendFileAndMetrics()
    {
        var accepted = 0;
        using var meters = new System.Diagnostics.Metrics.MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Transport.UnixNative" && instrument.Name == "unixnative.accepted_connections")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Value is "unix-connected")
                {
                    Interlocked.Add(ref accepted, (int)value);
                }
            }
        });
        meters.Start();
        var file = Path.Combine(Path.GetTempPath(), $"pair-sendfile-{Guid.NewGuid():N}.bin");
        var content = new byte[256 * 1024];
        Random.Shared.NextBytes(content);
        await File.WriteAllBytesAsync(file, content);
        try
        {
            var (serverEnd, clientEnd) = UnixSocketPair.Create();
            await using var app = await StartAsync(serverEnd.SafeHandle, routes: app =>
            {
                app.MapGet("/body", (HttpContext context) => context.Features.Get<IHttpResponseBodyFeature>()!.GetType().Name);
                app.MapGet("/file", (HttpContext context) => context.Response.SendFileAsync(file));
            });
            serverEnd.Dispose();
            using var http = new HttpClient(UnixSocketHttpHandler.ForConnectedSocket(clientEnd)) { BaseAddress = new Uri("http://localhost") };

            Assert.Equal("SendFileWriter", await http.GetStringAsync("/body").DefaultTimeout());
            Assert.Equal(content, await http.GetByteArrayAsync("/file").DefaultTimeout());
            Assert.Equal(1, Volatile.Read(ref accepted));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<WebApplication> StartAsync(System.Runtime.InteropServices.SafeHandle handle, Action<WebApplication>? routes = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUnixNativeTransport();
        builder.WebHost.ConfigureKestrel(k => k.ListenConnectedHandle(handle));
        var app = builder.Build();
        app.MapGet("/peer", (HttpContext context) =>
        {
            var peer = context.Features.Get<IUnixPeerCredentialsFeature>()!;
            return $"pid:{peer.ProcessId} uid:{peer.UserId} label:{peer.SecurityLabel ?? "null"}";
        });
        routes?.Invoke(app);
        try
        {
            await app.StartAsync().DefaultTimeout();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        return app;
    }
}
