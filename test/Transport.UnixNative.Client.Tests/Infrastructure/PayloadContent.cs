using System.Net;
using System.Security.Cryptography;

namespace Transport.UnixNative.Client.Tests.Infrastructure;

/// <summary>
/// A request body written in 64 KiB pieces. Unlike ByteArrayContent, SocketsHttpHandler lets a custom
/// content keep sending after the response has started, so a large echo cannot deadlock on full buffers:
/// the test reads the echo while the body is still going out.
/// </summary>
internal sealed class PayloadContent(byte[] payload) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        for (var offset = 0; offset < payload.Length; offset += 64 * 1024)
        {
            await stream.WriteAsync(payload.AsMemory(offset, Math.Min(64 * 1024, payload.Length - offset)));
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = payload.Length;
        return true;
    }

    /// <summary>POSTs <paramref name="size"/> random bytes to /echo and checks the SHA-256 of what comes back.</summary>
    public static async Task AssertEchoAsync(HttpClient http, string url, int size, Version? version = null)
    {
        var payload = RandomNumberGenerator.GetBytes(size);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new PayloadContent(payload) };
        if (version is not null)
        {
            request.Version = version;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync().DefaultTimeout();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        long received = 0;
        int read;
        while ((read = await body.ReadAsync(buffer).DefaultTimeout()) > 0)
        {
            hash.AppendData(buffer, 0, read);
            received += read;
        }
        Assert.Equal(size, received);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(payload)), Convert.ToHexString(hash.GetHashAndReset()));
    }
}
