using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Microsoft.Win32.SafeHandles;
using Transport.UnixNative;

namespace WebOverUds;

/// <summary><c>POST /files/sha256</c>: hashes the file whose descriptor came with the request, without a byte of upload.</summary>
internal static class FileRoutes
{
    public static IResult Sha256(HttpContext context)
    {
        if (context.Features.Get<IUnixFileDescriptorsFeature>() is not { } descriptors)
        {
            return Results.Text("Descriptors travel only over a unix socket served by Transport.UnixNative (HTTP/1.1).\n", statusCode: StatusCodes.Status400BadRequest);
        }
        var received = descriptors.TakeAll();
        try
        {
            if (received.Count != 1)
            {
                return Results.Text($"Send exactly one file descriptor with this request (SCM_RIGHTS); {received.Count} arrived.\n", statusCode: StatusCodes.Status400BadRequest);
            }
            var (hash, size) = Hash((SafeFileHandle)received[0]);
            return Results.Json(new FileDigest(Convert.ToHexStringLower(hash), size), FileJsonContext.Default.FileDigest);
        }
        catch (IOException e)
        {
            return Results.Text($"Cannot read the descriptor: {e.Message}\n", statusCode: StatusCodes.Status400BadRequest);
        }
        finally
        {
            foreach (var handle in received)
            {
                handle.Dispose();
            }
        }
    }

    /// <summary><c>POST /body/sha256</c>: the same digest of an uploaded body, to compare with passing the descriptor.</summary>
    public static async Task<IResult> BodySha256(HttpContext context)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var reader = context.Request.BodyReader;
        long size = 0;
        while (true)
        {
            var result = await reader.ReadAsync(context.RequestAborted);
            foreach (var segment in result.Buffer)
            {
                sha.AppendData(segment.Span);
                size += segment.Length;
            }
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }
        return Results.Json(new FileDigest(Convert.ToHexStringLower(sha.GetHashAndReset()), size), FileJsonContext.Default.FileDigest);
    }

    /// <summary>SHA-256 of everything from offset 0 (pread, so the sender's file offset is untouched); a pipe is read as a stream.</summary>
    public static (byte[] Hash, long Size) Hash(SafeFileHandle file)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[256 * 1024];
        long size = 0;
        try
        {
            int n;
            while ((n = RandomAccess.Read(file, buffer, size)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                size += n;
            }
        }
        catch (NotSupportedException) when (size == 0)
        {
            // A pipe or socket: no offsets, read it as a stream.
            using var stream = new FileStream(file, FileAccess.Read, bufferSize: 0);
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                size += n;
            }
        }
        return (sha.GetHashAndReset(), size);
    }
}

internal sealed record FileDigest(string Sha256, long Size);

[JsonSerializable(typeof(FileDigest))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class FileJsonContext : JsonSerializerContext;
