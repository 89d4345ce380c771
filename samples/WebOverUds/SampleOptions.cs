using System.Text.Json.Serialization;

namespace WebOverUds;

/// <summary>The sample's own command-line switches; everything else goes to the host (e.g. <c>--urls</c>).</summary>
internal sealed record SampleOptions(string Transport, string[] HostArgs, string[] SeqpacketAddresses)
{
    /// <summary><c>--socket-mode 0660</c>: the socket file's permissions (octal).</summary>
    public UnixFileMode? SocketMode { get; private set; }

    /// <summary><c>--socket-group NAME</c>: the socket file's group (name or gid).</summary>
    public string? SocketGroup { get; private set; }

    /// <summary><c>--listen-fd N</c>: serve the already-connected socket inherited as descriptor N (what <c>pair</c> starts).</summary>
    public int? ListenFd { get; private set; }

    /// <summary><c>--files DIR</c>: DIR served under <c>/files/</c> by the static file middleware.</summary>
    public string? FilesDirectory { get; private set; }
    /// <summary><c>--handover PATH</c>: take the listening sockets from a predecessor on this control socket, and offer them to a successor.</summary>
    public string? HandoverPath { get; private set; }

    /// <summary><c>--fdstore</c>: give systemd the listening sockets to keep across restarts (FDSTORE=1).</summary>
    public bool FdStore { get; private set; }

    /// <summary><c>--max-file-size BYTES</c>: the largest file <c>POST /files/sha256</c> hashes (default 4 GiB).</summary>
    public long MaxFileSize { get; private set; } = ReceivedFile.DefaultMaxSize;

    /// <summary><c>--admin-user NAME</c>: who may call <c>GET /admin</c>.</summary>
    public string AdminUser { get; private set; } = "root";

    public static SampleOptions Parse(string[] args)
    {
        var transport = "native";
        var hostArgs = new List<string>();
        var seqpackets = new List<string>();
        UnixFileMode? socketMode = null;
        string? socketGroup = null;
        var adminUser = "root";
        int? listenFd = null;
        string? files = null;
        string? handover = null;
        var fdStore = false;
        var maxFileSize = ReceivedFile.DefaultMaxSize;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--transport" && i + 1 < args.Length)
            {
                transport = args[++i];
                if (transport is not ("native" or "sockets"))
                {
                    throw new ArgumentException($"--transport must be 'native' or 'sockets', not '{transport}'.");
                }
            }
            else if (args[i] == "--seqpacket" && i + 1 < args.Length)
            {
                seqpackets.Add(args[++i]);
            }
            else if (args[i] == "--socket-mode" && i + 1 < args.Length)
            {
                socketMode = ParseMode(args[++i]);
            }
            else if (args[i] == "--socket-group" && i + 1 < args.Length)
            {
                socketGroup = args[++i];
            }
            else if (args[i] == "--listen-fd" && i + 1 < args.Length)
            {
                listenFd = int.TryParse(args[++i], out var fd) && fd >= 0 ? fd : throw new ArgumentException($"--listen-fd needs a descriptor number, not '{args[i]}'.");
            }
            else if (args[i] == "--handover" && i + 1 < args.Length)
            {
                handover = args[++i];
            }
            else if (args[i] == "--fdstore")
            {
                fdStore = true;
            }
            else if (args[i] == "--files" && i + 1 < args.Length)
            {
                files = Path.GetFullPath(args[++i]);
                if (!Directory.Exists(files))
                {
                    throw new ArgumentException($"--files: '{files}' is not a directory.");
                }
            }
            else if (args[i] == "--max-file-size" && i + 1 < args.Length)
            {
                maxFileSize = long.TryParse(args[++i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var max) && max >= 0
                    ? max : throw new ArgumentException($"--max-file-size needs a byte count, not '{args[i]}'.");
            }
            else if (args[i] == "--admin-user" && i + 1 < args.Length)
            {
                adminUser = args[++i];
            }
            else
            {
                hostArgs.Add(args[i]);
            }
        }
        if (transport == "sockets" && (socketMode is not null || socketGroup is not null || seqpackets.Count > 0 || handover is not null))
        {
            throw new ArgumentException("--seqpacket, --socket-mode, --socket-group and --handover need --transport native: Kestrel's Sockets transport speaks SOCK_STREAM only and leaves the socket file to the umask.");
        }
        return new SampleOptions(transport, hostArgs.ToArray(), seqpackets.ToArray()) { SocketMode = socketMode, SocketGroup = socketGroup, AdminUser = adminUser, HandoverPath = handover, FdStore = fdStore, FilesDirectory = files, ListenFd = listenFd, MaxFileSize = maxFileSize };
    }

    private static UnixFileMode ParseMode(string text)
    {
        if (text.Length is > 0 and <= 4 && text.All(c => c is >= '0' and <= '7') && Convert.ToInt32(text, 8) is var mode and <= 0x1FF)
        {
            return (UnixFileMode)mode;
        }
        throw new ArgumentException($"--socket-mode must be octal permission bits such as 0660, not '{text}'.");
    }

    /// <summary>The unix addresses (<c>/path</c>, <c>@name</c>) of <c>http://unix:</c> and <c>http://unix-seqpacket:</c> URLs in a <c>;</c>-separated list.</summary>
    public static string[] UnixAddresses(string urls) =>
    [
        .. urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(url => url.StartsWith("http://unix:", StringComparison.OrdinalIgnoreCase) ? url["http://unix:".Length..]
                : url.StartsWith("http://unix-seqpacket:", StringComparison.OrdinalIgnoreCase) ? url["http://unix-seqpacket:".Length..] : "")
            .Where(address => address.Length > 1 && address[0] is '/' or '@'),
    ];

    public static string DefaultSocketPath()
    {
        var dir = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (string.IsNullOrEmpty(dir) || !Directory.Exists(dir))
        {
            dir = "/tmp";
        }
        return Path.Combine(dir, "webover-uds.sock");
    }

    /// <summary>A curl command line that reaches a listening address.</summary>
    public static string CurlCommandFor(string address)
    {
        const string unixPrefix = "http://unix:";
        const string seqpacketPrefix = "http://unix-seqpacket:";
        if (address.StartsWith(seqpacketPrefix, StringComparison.Ordinal))
        {
            var socket = address[seqpacketPrefix.Length..];
            var target = socket.StartsWith('@') ? $"ABSTRACT-CONNECT:{socket[1..]}" : $"UNIX-CONNECT:{socket}";
            // Kestrel drops a request whose client half-closes at once, so keep stdin open a moment.
            return $"(printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n'; sleep 1) | socat - {target},type=5";
        }
        if (address.StartsWith(unixPrefix, StringComparison.Ordinal))
        {
            var socket = address[unixPrefix.Length..];
            return socket.StartsWith('@')
                ? $"curl --abstract-unix-socket {socket[1..]} http://localhost/"
                : $"curl --unix-socket {socket} http://localhost/";
        }
        return $"curl {address}/";
    }
}

internal sealed record Greeting(string Message);

/// <summary><c>GET /process</c>: which process answered (two pids across a hand-over).</summary>
internal sealed record ProcessInfo(int Pid, string Started);

[JsonSerializable(typeof(Greeting))]
[JsonSerializable(typeof(ProcessInfo))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class SampleJsonContext : JsonSerializerContext;
