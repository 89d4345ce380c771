using System.Net;
using System.Net.Http.Headers;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.SendFile;

/// <summary>File responses over HTTP/1.1 on a stream socket go out with sendfile(2), intact, and the connection carries on.</summary>
[SupportedOSPlatform("linux")]
public sealed class SendFileTests
{
    private const int Large = 64 * 1024 * 1024;

    [Fact]
    public async Task A_64MiB_static_file_arrives_intact_over_sendfile_and_the_connection_is_reused()
    {
        await using var server = await SendFileServer.StartAsync();
        var path = server.CreateFile("big.bin", Large);
        var expected = SHA256.HashData(File.ReadAllBytes(path));
        using var client = server.CreateClient();

        for (var i = 0; i < 2; i++)
        {
            using var response = await client.GetAsync("files/big.bin", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Large, response.Content.Headers.ContentLength);
            await using var body = await response.Content.ReadAsStreamAsync();
            Assert.Equal(expected, await SHA256.HashDataAsync(body).AsTask().DefaultTimeout());
        }
        await server.AssertSentWithSendFileAsync(Large, Large);
        Assert.Empty(server.Fallbacks);
    }

    [ToolFact("curl")]
    public async Task Curl_downloads_a_64MiB_file_intact()
    {
        await using var server = await SendFileServer.StartAsync();
        var path = server.CreateFile("big.bin", Large);
        var copy = Path.Combine(server.Files, "copy.out");
        var result = await ProcessRunner.RunAsync("curl", ["-sS", "--fail", "--unix-socket", server.Address.Address, "-o", copy, "http://localhost/files/big.bin"]);
        Assert.True(result.ExitCode == 0, result.StandardError);
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(path)), SHA256.HashData(File.ReadAllBytes(copy)));
        await server.AssertSentWithSendFileAsync(Large);
    }

    [Theory]
    [InlineData("files", "bytes=100-199", 100, 100)]
    [InlineData("files", "bytes=-500", 1048576 - 500, 500)]
    [InlineData("files", "bytes=1000-", 1000, 1048576 - 1000)]
    [InlineData("result", "bytes=4096-8191", 4096, 4096)]
    [InlineData("result", "bytes=-1", 1048575, 1)]
    public async Task Ranges_send_exactly_the_requested_bytes(string route, string range, int offset, int count)
    {
        await using var server = await SendFileServer.StartAsync();
        var content = File.ReadAllBytes(server.CreateFile("m.bin", 1048576));
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{route}/m.bin");
        request.Headers.Range = RangeHeaderValue.Parse(range);

        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(new ContentRangeHeaderValue(offset, offset + count - 1, content.Length), response.Content.Headers.ContentRange);
        Assert.Equal(content.AsSpan(offset, count).ToArray(), await response.Content.ReadAsByteArrayAsync().DefaultTimeout());
        await server.AssertSentWithSendFileAsync(count);
    }

    [Fact]
    public async Task Bytes_written_before_and_after_the_file_keep_their_order()
    {
        await using var server = await SendFileServer.StartAsync();
        var content = File.ReadAllBytes(server.CreateFile("m.bin", 3 * 1048576));
        using var client = server.CreateClient();

        foreach (var (offset, count) in new[] { (0, content.Length), (12345, 1048576), (content.Length - 7, 7) })
        {
            var body = await client.GetByteArrayAsync($"framed/m.bin?offset={offset}&count={count}").DefaultTimeout();
            var expected = System.Text.Encoding.ASCII.GetBytes(SendFileServer.Prefix)
                .Concat(content.AsSpan(offset, count).ToArray())
                .Concat(System.Text.Encoding.ASCII.GetBytes(SendFileServer.Suffix)).ToArray();
            Assert.Equal(expected, body);
        }
        await server.AssertSentWithSendFileAsync(content.Length, 1048576, 7);
    }

    [Fact]
    public async Task Head_304_and_404_behave_as_usual_and_send_no_file()
    {
        await using var server = await SendFileServer.StartAsync();
        server.CreateFile("m.bin", 100_000);
        using var client = server.CreateClient();

        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "files/m.bin")).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(100_000, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());

        using var conditional = new HttpRequestMessage(HttpMethod.Get, "files/m.bin");
        conditional.Headers.IfNoneMatch.Add(head.Headers.ETag!);
        using var notModified = await client.SendAsync(conditional).DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        using var missing = await client.GetAsync("files/nope.bin").DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        Assert.Empty(server.SentWithSendFile);
        // The same connection still serves a file afterwards.
        Assert.Equal(100_000, (await client.GetByteArrayAsync("files/m.bin").DefaultTimeout()).Length);
        await server.AssertSentWithSendFileAsync(100_000);
    }
}
