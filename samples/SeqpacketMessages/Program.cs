// SeqpacketMessages: a message protocol (not HTTP) over a SOCK_SEQPACKET unix socket, served by
// Kestrel through Transport.UnixNative. Every packet a client sends is one request; the reply is
// one packet: "<n>:<LENGTH>:<REQUEST IN UPPER CASE>" where n counts the connection's requests.
// Two messages use descriptors (SCM_RIGHTS):
//   "sha256" with exactly one descriptor attached → "sha256:<hex> size:<bytes>" of that file, read from offset 0
//       (a regular file of at most --max-file-size bytes, default 4 GiB; anything else → "error: …");
//   "memfd" → "memfd" with one descriptor attached: a memfd whose content is "from the server\n".
//
//   dotnet run --project samples/SeqpacketMessages -- @seqdemo          (or an absolute path; [--max-file-size BYTES])
//   python3 -c "import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect('\0seqdemo'); s.send(b'hi'); print(s.recv(65536))"
//   python3 -c "import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect('\0seqdemo'); socket.send_fds(s, [b'sha256'], [open('/etc/hosts').fileno()]); print(s.recv(256))"
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.Win32.SafeHandles;
using Transport.UnixNative;

var maxAt = Array.IndexOf(args, "--max-file-size");
long maxFileSize = ReceivedFile.DefaultMaxSize;
if (maxAt >= 0 && (maxAt + 1 >= args.Length || !long.TryParse(args[maxAt + 1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out maxFileSize)))
{
    Console.Error.WriteLine("SeqpacketMessages: --max-file-size needs a byte count.");
    return 2;
}
var address = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (maxAt < 0 || i != maxAt + 1)).FirstOrDefault() ?? "@seqpacket-messages";

var builder = WebApplication.CreateSlimBuilder(args);
// The "sha256" message takes a descriptor: this endpoint opts in (the transport's default is none).
builder.WebHost.UseUnixNativeTransport(o => o.ReceiveDescriptorsOn.Add(address));
builder.Services.AddSingleton(new FileLimit(maxFileSize));
StartupErrors.SilenceHostFailureLog(builder.Logging);
builder.WebHost.ConfigureKestrel(k => k.ListenUnixSeqpacketMessages(address, l => l.UseConnectionHandler<UpperCaseHandler>()));

var app = builder.Build();
app.Lifetime.ApplicationStarted.Register(() =>
{
    var python = address.StartsWith('@') ? $"'\\0{address[1..]}'" : $"'{address}'";
    Console.WriteLine($"Message server on seqpacket {address}. Try:");
    Console.WriteLine($"  python3 -c \"import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect({python}); s.send(b'hi'); print(s.recv(65536))\"");
});
return await StartupErrors.RunAsync(() => app.RunAsync());

/// <summary>Answers every message with one message; boundaries are the protocol's framing.</summary>
internal sealed class UpperCaseHandler(FileLimit limit, ILogger<UpperCaseHandler> logger) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var messages = connection.Features.Get<IUnixMessageFeature>()
            ?? throw new InvalidOperationException("Bind this handler with ListenUnixSeqpacketMessages.");
        var count = 0;
        var descriptors = new List<SafeHandle>();
        while (await messages.ReceiveAsync(descriptors, connection.ConnectionClosed) is { } request)
        {
            try
            {
                var text = Encoding.UTF8.GetString(request.Span);
                if (text == "sha256")
                {
                    var reply = await Sha256Async(descriptors, limit.MaxSize, connection.ConnectionClosed);
                    if (reply is null)
                    {
                        logger.LogInformation("sha256: the client left; hashing stopped.");
                        return;
                    }
                    await messages.SendAsync(Encoding.UTF8.GetBytes(reply), connection.ConnectionClosed);
                }
                else if (text == "memfd")
                {
                    using var file = MemoryFile("from the server\n"u8);
                    await messages.SendAsync("memfd"u8.ToArray(), [file], connection.ConnectionClosed);
                }
                else
                {
                    var reply = $"{++count}:{request.Length}:{text.ToUpperInvariant()}";
                    await messages.SendAsync(Encoding.UTF8.GetBytes(reply), connection.ConnectionClosed);
                }
            }
            finally
            {
                descriptors.ForEach(d => d.Dispose()); // whatever came with the message is closed, used or not
                descriptors.Clear();
            }
        }
    }

    /// <summary>The reply to "sha256"; null when the client left meanwhile (the hashing stops then).</summary>
    private static async Task<string?> Sha256Async(List<SafeHandle> descriptors, long maxSize, CancellationToken clientLeft)
    {
        if (descriptors is not [SafeFileHandle file])
        {
            return $"error: sha256 needs exactly one descriptor attached, got {descriptors.Count}";
        }
        // The peer chooses what the descriptor is: only a regular file within the cap is read (/dev/zero or a FIFO never ends).
        if (ReceivedFile.Refusal(file, maxSize, out _) is { } refusal)
        {
            return $"error: {refusal}";
        }
        try
        {
            var (hash, size) = await ReceivedFile.Sha256Async(file, maxSize, clientLeft);
            return $"sha256:{Convert.ToHexStringLower(hash)} size:{size}";
        }
        catch (OperationCanceledException) when (clientLeft.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return $"error: cannot read the descriptor from offset 0: {e.Message}";
        }
    }

    /// <summary>An anonymous in-memory file (memfd_create) holding <paramref name="content"/>, offset at 0.</summary>
    private static SafeFileHandle MemoryFile(ReadOnlySpan<byte> content)
    {
        const uint MFD_CLOEXEC = 1;
        var fd = MemfdCreate("seqpacket-messages", MFD_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"memfd_create failed: errno {Marshal.GetLastPInvokeError()}");
        }
        var file = new SafeFileHandle(fd, ownsHandle: true);
        RandomAccess.Write(file, content, 0); // pwrite: the shared file offset stays at 0 for the reader
        return file;
    }

    // A sample keeps to safe code: the classic DllImport marshals the string without an unsafe block.
    [DllImport("libc", EntryPoint = "memfd_create", SetLastError = true)]
    private static extern int MemfdCreate([MarshalAs(UnmanagedType.LPUTF8Str)] string name, uint flags);
}

/// <summary>The largest file "sha256" hashes (<c>--max-file-size</c>).</summary>
internal sealed record FileLimit(long MaxSize);
