using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Tests.Seqpacket;

namespace Transport.UnixNative.Tests.Descriptors;

/// <summary>A real Kestrel whose routes and message handler take, ignore and send descriptors.</summary>
internal sealed class DescriptorHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DescriptorHost(WebApplication app, string streamPath, string seqpacketPath, string messages, LogCollector logs)
    {
        _app = app;
        StreamPath = streamPath;
        SeqpacketPath = seqpacketPath;
        MessagesAddress = messages;
        Logs = logs;
    }

    public string StreamPath { get; }

    public string SeqpacketPath { get; }

    /// <summary>An abstract address whose connections run <see cref="DescriptorMessageHandler"/>.</summary>
    public string MessagesAddress { get; }

    public LogCollector Logs { get; }

    public static async Task<DescriptorHost> StartAsync(Action<UnixNativeTransportOptions>? configure = null)
    {
        var streamPath = TestPaths.SocketPath();
        var seqpacketPath = TestPaths.SocketPath();
        var messages = "@" + TestPaths.AbstractName();
        var logs = new LogCollector();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Debug); // tests wait for "connection closed" (event 1)
        builder.WebHost.UseUnixNativeTransport(o =>
        {
            // Every endpoint here takes descriptors (the default is none); tests may change that.
            o.ReceiveDescriptorsOn.UnionWith([streamPath, seqpacketPath, messages]);
            configure?.Invoke(o);
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.ListenUnixSocket(streamPath);
            k.ListenUnixSeqpacket(seqpacketPath);
            k.ListenUnixSeqpacketMessages(messages, l => l.UseConnectionHandler<DescriptorMessageHandler>());
        });
        var app = builder.Build();
        // Takes every descriptor of this request: "sha256:<hex of the first> count:<n>".
        app.MapPost("/fd/sha256", (HttpContext context) =>
        {
            var taken = context.Features.Get<IUnixFileDescriptorsFeature>()!.TakeAll();
            try
            {
                return taken.Count == 0 ? "count:0" : $"{Sha256((SafeFileHandle)taken[0])} count:{taken.Count}";
            }
            finally
            {
                foreach (var handle in taken)
                {
                    handle.Dispose();
                }
            }
        });
        // How many descriptors are takeable before and after reading the body.
        app.MapPost("/fd/after-body", async (HttpContext context) =>
        {
            var feature = context.Features.Get<IUnixFileDescriptorsFeature>()!;
            var before = feature.Count;
            await context.Request.Body.CopyToAsync(Stream.Null);
            var taken = feature.TakeAll();
            var hash = taken.Count > 0 ? Sha256((SafeFileHandle)taken[0]) : "none";
            foreach (var handle in taken)
            {
                handle.Dispose();
            }
            return $"before:{before} after:{taken.Count} {hash}";
        });
        // Takes nothing and reads no body: whatever came with it must be closed when it ends.
        app.MapPost("/fd/ignore", () => "ignored");
        // A bodiless request: how many descriptors are its own; takes none.
        app.MapGet("/fd/count", (HttpContext context) => $"count:{context.Features.Get<IUnixFileDescriptorsFeature>()?.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");
        await app.StartAsync().DefaultTimeout();
        return new DescriptorHost(app, streamPath, seqpacketPath, messages, logs);
    }

    public static string Sha256(SafeFileHandle file)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long offset = 0;
        int n;
        while ((n = RandomAccess.Read(file, buffer, offset)) > 0)
        {
            sha.AppendData(buffer, 0, n);
            offset += n;
        }
        return "sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().DefaultTimeout();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// Messages: <c>sha256</c> → hash of the first descriptor and the count; <c>content</c> → the first
/// descriptor's bytes; <c>send:N</c> → a reply carrying N descriptors (a memory file reading "from the
/// server\n"), or "refused: …" when SendAsync refuses; <c>plain</c> → from now on receive without taking
/// descriptors; <c>hold</c> → read nothing more until the connection closes; anything else → "ok:&lt;descriptors taken&gt;".
/// </summary>
internal sealed class DescriptorMessageHandler : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var messages = connection.Features.Get<IUnixMessageFeature>()!;
        var descriptors = new List<SafeHandle>();
        var plain = false;
        while (await (plain ? messages.ReceiveAsync(connection.ConnectionClosed) : messages.ReceiveAsync(descriptors, connection.ConnectionClosed)) is { } message)
        {
            try
            {
                var text = Encoding.ASCII.GetString(message.Span);
                if (text == "hold")
                {
                    // Read nothing more: later messages and their descriptors stay queued until the connection closes.
                    await messages.SendAsync("ok:hold"u8.ToArray(), connection.ConnectionClosed);
                    var input = connection.Transport.Input;
                    try
                    {
                        while (true)
                        {
                            var result = await input.ReadAsync();
                            input.AdvanceTo(result.Buffer.Start, result.Buffer.End); // examine, never consume
                            if (result.IsCompleted || result.IsCanceled)
                            {
                                return; // the peer left; the transport closes what was never read
                            }
                        }
                    }
                    catch (ConnectionAbortedException)
                    {
                        return; // cut by the transport (a descriptor limit): already logged there
                    }
                }
                if (text == "plain")
                {
                    plain = true;
                    await messages.SendAsync("ok:plain"u8.ToArray(), connection.ConnectionClosed);
                }
                else if (text == "sha256")
                {
                    var reply = descriptors.Count == 0 ? "count:0" : $"{DescriptorHost.Sha256((SafeFileHandle)descriptors[0])} count:{descriptors.Count}";
                    await messages.SendAsync(Encoding.ASCII.GetBytes(reply), connection.ConnectionClosed);
                }
                else if (text.StartsWith("send:", StringComparison.Ordinal))
                {
                    var count = int.Parse(text[5..], System.Globalization.CultureInfo.InvariantCulture);
                    using var file = TestFiles.Memory("from the server\n");
                    try
                    {
                        await messages.SendAsync("here"u8.ToArray(), Enumerable.Repeat<SafeHandle>(file, count).ToArray(), connection.ConnectionClosed);
                    }
                    catch (ArgumentException e)
                    {
                        await messages.SendAsync(Encoding.UTF8.GetBytes("refused: " + e.Message), connection.ConnectionClosed);
                    }
                }
                else
                {
                    await messages.SendAsync(Encoding.ASCII.GetBytes($"ok:{descriptors.Count}"), connection.ConnectionClosed);
                }
            }
            finally
            {
                descriptors.ForEach(d => d.Dispose());
                descriptors.Clear();
            }
        }
    }
}

internal static class TestFiles
{
    /// <summary>An unlinked temporary file holding <paramref name="content"/>: only the descriptor reaches it.</summary>
    public static SafeFileHandle Memory(string content)
    {
        var path = TestPaths.SocketPath() + ".data";
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        File.Delete(path);
        RandomAccess.Write(handle, Encoding.UTF8.GetBytes(content), 0);
        return handle;
    }

    /// <summary>How many descriptors of this process refer to <paramref name="file"/> (immune to the runtime's own descriptors).</summary>
    public static int OpenCopies(SafeFileHandle file)
    {
        var target = new FileInfo($"/proc/self/fd/{file.DangerousGetHandle()}").LinkTarget;
        var count = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget == target)
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }
        return count;
    }

    /// <summary>A file with <paramref name="content"/>, deleted when disposed.</summary>
    public static TempFile Create(string content)
    {
        var path = TestPaths.SocketPath() + ".txt";
        File.WriteAllText(path, content);
        return new TempFile(path);
    }

    public static string Sha256Of(string content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    public sealed class TempFile(string path) : IDisposable
    {
        public string Path { get; } = path;

        public void Dispose() => File.Delete(Path);
    }
}
