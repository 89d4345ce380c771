using System.Net.Sockets;
using Transport.UnixNative.Tests.Infrastructure;
using SampleProcess = Transport.UnixNative.Tests.Access.SampleProcess;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>
/// The sample binds Kestrel's Limits from its configuration (Kestrel itself does not), so
/// <c>--Kestrel:Limits:…</c> on its command line works: the reliability suite relies on it.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SampleLimitsTests
{
    [Fact]
    public async Task Sample_KeepAliveTimeoutFromTheCommandLine_ClosesAnIdleConnection()
    {
        using var directory = new TempSocketDirectory();
        var socket = directory.PathOf("s.sock");
        // Kestrel's default keep-alive timeout is 130 s: without the binding the read below times out.
        await using var sample = await SampleProcess.StartAsync(directory.Path, null,
            "--urls", $"http://unix:{socket}", "--Kestrel:Limits:KeepAliveTimeout=00:00:01");

        using var client = await UnixClient.ConnectSocketAsync(new ServerAddress(socket)).DefaultTimeout();
        await client.SendAsync(RawHttpReader.Get("/plaintext"), SocketFlags.None).DefaultTimeout();
        using var stream = new NetworkStream(client, ownsSocket: false);
        var reader = new RawHttpReader(stream);
        Assert.Equal(200, (await reader.ReadResponseAsync().DefaultTimeout())!.Status);

        Assert.Null(await reader.ReadResponseAsync().DefaultTimeout());
    }
}
