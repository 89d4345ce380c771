using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>SeqpacketStream against a real SOCK_SEQPACKET peer: packets become a byte stream with nothing lost.</summary>
public sealed class SeqpacketStreamTests : IAsyncLifetime
{
    private Socket _listener = null!;
    private Socket _peer = null!;
    private SeqpacketStream _stream = null!;

    public async Task InitializeAsync()
    {
        var address = new UnixDomainSocketEndPoint("\0" + TestPaths.AbstractAddress()[1..]);
        _listener = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        _listener.Bind(address);
        _listener.Listen(1);
        var client = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        await client.ConnectAsync(address).DefaultTimeout();
        _peer = await _listener.AcceptAsync().DefaultTimeout();
        _stream = new SeqpacketStream(client);
    }

    public Task DisposeAsync()
    {
        _stream.Dispose();
        _peer.Dispose();
        _listener.Dispose();
        return Task.CompletedTask;
    }

    private static byte[] Pattern(int length, int seed) => Enumerable.Range(0, length).Select(i => (byte)((i + seed) % 251)).ToArray();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PacketsLargerThanTheReadBuffer_AreNeverTruncated(bool async)
    {
        byte[][] packets = [Pattern(100_000, 1), Pattern(1, 2), Pattern(70_000, 3), Pattern(1000, 4)];
        foreach (var packet in packets)
        {
            Assert.Equal(packet.Length, await _peer.SendAsync(packet).DefaultTimeout());
        }

        var received = new MemoryStream();
        var buffer = new byte[1000];
        while (received.Length < packets.Sum(p => p.Length))
        {
            var read = async ? await _stream.ReadAsync(buffer).DefaultTimeout() : _stream.Read(buffer, 0, buffer.Length);
            Assert.NotEqual(0, read);
            received.Write(buffer, 0, read);
        }

        Assert.Equal(packets.SelectMany(p => p).ToArray(), received.ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Writes_AreSplitIntoPacketsOfAtMost64KiB(bool async)
    {
        var data = Pattern(200_000, 5);

        if (async)
        {
            await _stream.WriteAsync(data).DefaultTimeout();
        }
        else
        {
            _stream.Write(data, 0, data.Length);
        }

        var sizes = new List<int>();
        var received = new MemoryStream();
        var buffer = new byte[256 * 1024];
        while (received.Length < data.Length)
        {
            var size = await _peer.ReceiveAsync(buffer).DefaultTimeout();
            sizes.Add(size);
            received.Write(buffer, 0, size);
        }
        Assert.Equal([65536, 65536, 65536, 3392], sizes);
        Assert.Equal(data, received.ToArray());
    }

    [Fact]
    public async Task EmptyWrite_SendsNoPacket()
    {
        await _stream.WriteAsync(ReadOnlyMemory<byte>.Empty).DefaultTimeout();
        _stream.Write([], 0, 0);
        await _stream.WriteAsync("x"u8.ToArray()).DefaultTimeout();

        // An empty packet would arrive first and read as a 0-byte packet.
        var buffer = new byte[16];
        Assert.Equal(1, await _peer.ReceiveAsync(buffer).DefaultTimeout());
        Assert.Equal((byte)'x', buffer[0]);
    }

    [Fact]
    public async Task ZeroByteRead_WaitsForData_AndLeavesItForTheNextRead()
    {
        var waiting = _stream.ReadAsync(Memory<byte>.Empty);
        await _peer.SendAsync("abc"u8.ToArray()).DefaultTimeout();

        Assert.Equal(0, await waiting.DefaultTimeout());
        var buffer = new byte[16];
        Assert.Equal(3, await _stream.ReadAsync(buffer).DefaultTimeout());
        Assert.Equal("abc", Encoding.ASCII.GetString(buffer, 0, 3));
    }

    [Fact]
    public async Task PeerClose_IsEndOfStream_AfterLeftoverBytes()
    {
        await _peer.SendAsync(Pattern(10, 0)).DefaultTimeout();
        _peer.Shutdown(SocketShutdown.Both);
        _peer.Dispose();

        var buffer = new byte[4];
        var total = 0;
        int read;
        while ((read = await _stream.ReadAsync(buffer).DefaultTimeout()) > 0)
        {
            total += read;
        }

        Assert.Equal(10, total);
    }

    [Fact]
    public void RejectsAStreamSocket()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);

        var error = Assert.Throws<ArgumentException>(() => new SeqpacketStream(socket));
        Assert.Contains("not Seqpacket", error.Message);
    }
}

/// <summary>HTTP over SOCK_SEQPACKET to our server's ListenUnixSeqpacket endpoints, chosen by URL scheme or handler option.</summary>
public sealed class SeqpacketHttpTests : IAsyncLifetime
{
    private readonly string _path = TestPaths.SocketPath();
    private readonly string _abstract = TestPaths.AbstractAddress();
    private readonly string _h2Path = TestPaths.SocketPath();
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync("seq", k =>
        {
            k.ListenUnixSeqpacket(_path);
            k.ListenUnixSeqpacket(_abstract);
            k.ListenUnixSeqpacket(_h2Path, o => o.Protocols = HttpProtocols.Http2);
        }, ServerTransport.Native, _path, _h2Path);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("path")]
    [InlineData("abstract")]
    public async Task Get_ViaSeqpacketUrl(string kind)
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());
        var url = TestPaths.SeqpacketUrl(kind == "path" ? _path : _abstract, "/whoami");

        using var response = await http.GetAsync(url).DefaultTimeout();

        Assert.StartsWith("seq localhost HTTP/1.1", await response.Content.ReadAsStringAsync().DefaultTimeout());
        Assert.Equal(url, response.RequestMessage!.RequestUri!.OriginalString);
    }

    [Fact]
    public async Task Get_ViaHandlerOption_IncludingAResponseOfManyPackets()
    {
        using var http = new HttpClient(UnixSocketHttpHandler.Create(_abstract, o => o.SocketType = SocketType.Seqpacket))
        {
            BaseAddress = new("http://localhost"),
        };

        Assert.Equal("Hello, World!", await http.GetStringAsync("/plaintext").DefaultTimeout());
        var bytes = await http.GetByteArrayAsync("/bytes/1000000").DefaultTimeout();
        Assert.Equal(Enumerable.Range(0, 1_000_000).Select(i => (byte)(i % 251)), bytes);
    }

    [Fact]
    public async Task PostEcho_1MiB_OverHttp1()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());
        var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(1024 * 1024);

        using var response = await http.PostAsync(TestPaths.SeqpacketUrl(_path, "/echo"), new ByteArrayContent(payload)).DefaultTimeout();

        Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync().DefaultTimeout());
    }

    // 16 MiB streams both ways at once, so it needs HTTP/2 (see Http2Tests.LargeEcho_OverHttp2).
    [Fact]
    public async Task PostEcho_16MiB_WithChecksum_OverHttp2()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());

        await PayloadContent.AssertEchoAsync(http, TestPaths.SeqpacketUrl(_h2Path, "/echo"), 16 * 1024 * 1024, HttpVersion.Version20);
    }

    [Fact]
    public async Task StreamUrlToSeqpacketSocket_SaysWhichSchemeToUse()
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(TestPaths.UnixUrl(_path, "/"))).DefaultTimeout();

        Assert.Contains(_path, error.Message);
        Assert.Contains("EPROTOTYPE", error.Message);
        Assert.Contains("http+unix+seqpacket://", error.Message);
        Assert.IsAssignableFrom<SocketException>(error.InnerException);
    }
}
