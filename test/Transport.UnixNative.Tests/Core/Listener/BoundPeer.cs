using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Listener;

/// <summary>
/// Python as a client whose own socket is bound to an exact address (through libc's bind, so even a
/// 108-byte path with no NUL, which Python's socket module refuses), that sends one request and prints the reply.
/// </summary>
internal static class BoundPeer
{
    private const string Script = """
        import ctypes, os, socket, sys
        server, kind, name_hex, sock_type = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
        name = bytes.fromhex(name_hex)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if sock_type == "seqpacket" else socket.SOCK_STREAM)
        s.settimeout(20)
        raw = (b"\0" + name) if kind == "abstract" else name
        addr = ctypes.create_string_buffer(110)
        addr.raw = (socket.AF_UNIX).to_bytes(2, "little") + raw + b"\0" * (108 - len(raw))
        libc = ctypes.CDLL(None, use_errno=True)
        if name and libc.bind(s.fileno(), addr, 2 + len(raw) + (1 if kind == "path" and len(raw) < 108 else 0)) != 0:
            sys.exit("bind: " + os.strerror(ctypes.get_errno()))
        try:
            s.connect(server if not server.startswith("@") else "\0" + server[1:])
            s.sendall(b"GET /test/conn HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            sys.stdout.write(data.decode("latin-1"))
        finally:
            if kind == "path" and name:
                os.unlink(name)
        """;

    /// <summary>Connects from <paramref name="name"/> to <paramref name="server"/>; returns the connection id the server answered with.</summary>
    public static async Task<string> RequestAsync(string server, bool isAbstract, byte[] name, bool seqpacket = false)
    {
        var result = await ProcessRunner.RunAsync("python3",
            ["-c", Script, server, isAbstract ? "abstract" : "path", Convert.ToHexString(name), seqpacket ? "seqpacket" : "stream"]);
        Assert.True(result.ExitCode == 0, $"python3 exited {result.ExitCode}: {result.StandardError}");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", result.StandardOutput, StringComparison.Ordinal);
        var header = result.StandardOutput.Split("\r\n").Single(l => l.StartsWith("X-Connection-Id:", StringComparison.OrdinalIgnoreCase));
        return header["X-Connection-Id:".Length..].Trim();
    }
}
