using System.IO.Compression;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.Versioning;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.SendFile;

/// <summary>Every response that cannot take sendfile gets Kestrel's copying path, intact; the log says which path ran.</summary>
[SupportedOSPlatform("linux")]
public sealed class SendFileFallbackTests
{
    private const int Size = 3 * 1024 * 1024 + 17;

    private static async Task<byte[]> GetAsync(SendFileServer server, string path, Version? version = null)
    {
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (version is not null)
        {
            request.Version = version;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Http2_copies()
    {
        await using var server = await SendFileServer.StartAsync(new() { Protocols = HttpProtocols.Http2 });
        var content = File.ReadAllBytes(server.CreateFile("m.bin", Size));
        Assert.Equal(content, await GetAsync(server, "files/m.bin", HttpVersion.Version20));
        Assert.Empty(server.SentWithSendFile);
        Assert.Equal(["HTTP/2"], server.Fallbacks);
    }

    [Fact]
    public async Task A_chunked_response_copies()
    {
        await using var server = await SendFileServer.StartAsync();
        var content = File.ReadAllBytes(server.CreateFile("m.bin", Size));
        Assert.Equal(content, await GetAsync(server, "chunked/m.bin"));
        Assert.Empty(server.SentWithSendFile);
        Assert.Equal(["chunked response (no Content-Length)"], server.Fallbacks);
    }

    [Fact]
    public async Task A_device_linked_into_the_directory_copies()
    {
        // A character device has no length of its own (fstat says 0): only the copying path reads what the response promised.
        await using var server = await SendFileServer.StartAsync();
        File.CreateSymbolicLink(Path.Combine(server.Files, "zero"), "/dev/zero");
        var body = await GetAsync(server, "files/zero");
        Assert.NotEmpty(body);
        Assert.All(body, b => Assert.Equal(0, b));
        Assert.Empty(server.SentWithSendFile);
        Assert.Equal(["not a regular file"], server.Fallbacks);
    }

    [Fact]
    public async Task Seqpacket_copies()
    {
        await using var server = await SendFileServer.StartAsync(new() { Seqpacket = true });
        var content = File.ReadAllBytes(server.CreateFile("m.bin", Size));
        Assert.Equal(content, await GetAsync(server, "files/m.bin"));
        Assert.Empty(server.SentWithSendFile);
        Assert.Equal(["seqpacket socket"], server.Fallbacks);
    }

    [Fact]
    public async Task A_compressed_response_copies_through_the_compressor_and_an_uncompressed_one_still_uses_sendfile()
    {
        await using var server = await SendFileServer.StartAsync(new()
        {
            Services = services => services.AddResponseCompression(o => o.MimeTypes = ["text/plain"]),
            Pipeline = app => app.UseResponseCompression(),
        });
        var text = string.Concat(Enumerable.Repeat("compressible text\n", 200_000));
        await File.WriteAllTextAsync(Path.Combine(server.Files, "t.txt"), text);
        using var client = server.CreateClient();

        using var request = new HttpRequestMessage(HttpMethod.Get, "files/t.txt");
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal("gzip", Assert.Single(response.Content.Headers.ContentEncoding));
        await using (var gzip = new GZipStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress))
        using (var reader = new StreamReader(gzip))
        {
            Assert.Equal(text, await reader.ReadToEndAsync().DefaultTimeout());
        }
        Assert.Empty(server.SentWithSendFile);

        // Without Accept-Encoding the compressor passes SendFileAsync down to the transport.
        Assert.Equal(text, await client.GetStringAsync("files/t.txt").DefaultTimeout());
        await server.AssertSentWithSendFileAsync(text.Length);
    }

    [Fact]
    public async Task A_response_body_wrapped_by_middleware_copies()
    {
        await using var server = await SendFileServer.StartAsync(new()
        {
            Pipeline = app => app.Use(async (context, next) =>
            {
                var buffered = new BufferedStream(context.Response.Body, 64 * 1024);
                context.Response.Body = buffered;
                await next(context);
                await buffered.FlushAsync();
            }),
        });
        var content = File.ReadAllBytes(server.CreateFile("m.bin", Size));
        Assert.Equal(content, await GetAsync(server, "files/m.bin"));
        Assert.Empty(server.SentWithSendFile);
    }

    [Fact]
    public async Task Connection_middleware_that_wraps_the_output_copies()
    {
        await using var server = await SendFileServer.StartAsync(new()
        {
            ConnectionMiddleware = next => connection =>
            {
                connection.Transport = new WrappedTransport(connection.Transport);
                return next(connection);
            },
        });
        var content = File.ReadAllBytes(server.CreateFile("m.bin", Size));
        Assert.Equal(content, await GetAsync(server, "files/m.bin"));
        Assert.Empty(server.SentWithSendFile);
        Assert.Equal(["the connection's output is wrapped by connection middleware"], server.Fallbacks);
    }

    [Fact]
    public async Task The_option_turns_it_off()
    {
        await using var server = await SendFileServer.StartAsync(new() { Transport = o => o.UseSendFile = false });
        var content = File.ReadAllBytes(server.CreateFile("m.bin", Size));
        Assert.Equal(content, await GetAsync(server, "files/m.bin"));
        Assert.Empty(server.SentWithSendFile);
        Assert.Empty(server.Fallbacks);
    }

    [Fact]
    public void The_option_defaults_to_on() => Assert.True(new UnixNativeTransportOptions().UseSendFile);

    private sealed class WrappedTransport(IDuplexPipe inner) : IDuplexPipe
    {
        public PipeReader Input => inner.Input;

        public PipeWriter Output { get; } = new PassThroughWriter(inner.Output);
    }

    private sealed class PassThroughWriter(PipeWriter inner) : PipeWriter
    {
        public override void Advance(int bytes) => inner.Advance(bytes);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
    }
}
