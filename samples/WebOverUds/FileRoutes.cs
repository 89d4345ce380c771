using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Microsoft.Win32.SafeHandles;
using Transport.UnixNative;

namespace WebOverUds;

/// <summary><c>POST /files/sha256</c>: hashes the file whose descriptor came with the request, without a byte of upload.</summary>
internal static class FileRoutes
{
    public static async Task<IResult> Sha256(HttpContext context, long maxFileSize, ILogger logger)
    {
        if (context.Features.Get<IUnixFileDescriptorsFeature>() is not { } descriptors)
        {
            return Results.Text("This endpoint does not receive descriptors: they travel only over a unix socket served by Transport.UnixNative " +
                "(HTTP/1.1) whose address is in ReceiveDescriptorsOn.\n", statusCode: StatusCodes.Status400BadRequest);
        }
        var received = descriptors.TakeAll();
        try
        {
            if (received.Count != 1)
            {
                return Results.Text($"Send exactly one file descriptor with this request (SCM_RIGHTS); {received.Count} arrived.\n", statusCode: StatusCodes.Status400BadRequest);
            }
            // The peer chooses what the descriptor is: only a regular file within the cap is read (/dev/zero or a FIFO never ends).
            var file = (SafeFileHandle)received[0];
            if (ReceivedFile.Refusal(file, maxFileSize, out _) is { } refusal)
            {
                return Results.Text($"Not hashed: {refusal}.\n", statusCode: refusal.Contains("limit", StringComparison.Ordinal)
                    ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status415UnsupportedMediaType);
            }
            try
            {
                var (hash, size) = await ReceivedFile.Sha256Async(file, maxFileSize, context.RequestAborted);
                return Results.Json(new FileDigest(Convert.ToHexStringLower(hash), size), FileJsonContext.Default.FileDigest);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                logger.LogInformation("POST /files/sha256: the client left; hashing stopped.");
                return Results.Empty;
            }
            catch (InvalidDataException e)
            {
                return Results.Text($"Not hashed: {e.Message}.\n", statusCode: StatusCodes.Status413PayloadTooLarge);
            }
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
}

internal sealed record FileDigest(string Sha256, long Size);

[JsonSerializable(typeof(FileDigest))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class FileJsonContext : JsonSerializerContext;
