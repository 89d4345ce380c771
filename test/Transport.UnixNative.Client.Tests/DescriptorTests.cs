using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>
/// Descriptors from the client side: our message client and seqpacket stream against Python's
/// socket.send_fds/recv_fds (both directions), and the samples' descriptor contracts run as processes.
/// </summary>
public sealed class DescriptorTests
{
    // One seqpacket connection: reads each message's descriptor from offset 0 and answers with the text and a
    // file of its own ("from python\n") attached.
    private const string PythonServer = """
        import socket, sys, os, tempfile
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind(sys.argv[1]); s.listen(1); print('ready', flush=True)
        c, _ = s.accept(); c.settimeout(30)
        mine = tempfile.TemporaryFile(); mine.write(b'from python\n'); mine.flush()
        while True:
            msg, fds, flags, _ = socket.recv_fds(c, 65536, 8)
            if not msg:
                break
            got = b'|'.join(os.pread(fd, 100, 0) for fd in fds)
            for fd in fds: os.close(fd)
            socket.send_fds(c, [msg + b' ' + str(len(fds)).encode() + b' ' + got], [mine.fileno()])
        """;

    [ToolFact("python3")]
    public async Task MessageClient_SendsAndReceivesDescriptors_WithPython()
    {
        var path = TestPaths.SocketPath();
        await using var python = ExternalProcess.Start(Tools.Require("python3"), ["-c", PythonServer, path]);
        try
        {
            await python.WaitForLineAsync(l => l == "ready");
            using var file = TempFile("from dotnet\n", out var filePath);
            using var client = await UnixMessageClient.ConnectAsync(path).DefaultTimeout();

            await client.SendAsync("hello"u8.ToArray(), [file, file]).DefaultTimeout();
            var received = new List<SafeHandle>();
            var reply = await client.ReceiveAsync(received).DefaultTimeout();

            Assert.Equal("hello 2 from dotnet\n|from dotnet\n", Encoding.UTF8.GetString(reply!));
            var theirs = Assert.Single(received);
            Assert.Equal("from python\n", Read((SafeFileHandle)theirs));
            theirs.Dispose();
            File.Delete(filePath);
        }
        finally
        {
            TestPaths.DeleteQuietly(path);
        }
    }

    [ToolFact("python3")]
    public async Task SeqpacketStream_WritesAndReadsDescriptors_WithPython()
    {
        var path = TestPaths.SocketPath();
        await using var python = ExternalProcess.Start(Tools.Require("python3"), ["-c", PythonServer, path]);
        try
        {
            await python.WaitForLineAsync(l => l == "ready");
            using var file = TempFile("stream\n", out var filePath);
            var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
            await using var stream = new SeqpacketStream(socket);

            await stream.WriteAsync("hi"u8.ToArray(), [file]).DefaultTimeout();
            var received = new List<SafeHandle>();
            var buffer = new byte[4]; // smaller than the reply: the descriptors come with the first read
            var first = await stream.ReadAsync(buffer, received).DefaultTimeout();
            var rest = new byte[100];
            var second = await stream.ReadAsync(rest, received).DefaultTimeout();

            Assert.Equal("hi 1 stream\n", Encoding.UTF8.GetString(buffer, 0, first) + Encoding.UTF8.GetString(rest, 0, second));
            Assert.Equal("from python\n", Read((SafeFileHandle)Assert.Single(received)));
            received[0].Dispose();
            File.Delete(filePath);
        }
        finally
        {
            TestPaths.DeleteQuietly(path);
        }
    }

    [ToolFact("python3")]
    public async Task SeqpacketMessagesSample_HashesTheFileOfADescriptor_AndSendsAMemfd()
    {
        var address = TestPaths.AbstractAddress();
        await using var sample = ExternalProcess.Start(ProcessRunner.Dotnet, [Path.Combine(AppContext.BaseDirectory, "SeqpacketMessages.dll"), address]);
        await sample.WaitForLineAsync(l => l.StartsWith("Message server on seqpacket", StringComparison.Ordinal));
        using var file = TempFile("hash me\n", out var filePath);
        try
        {
            var result = await ProcessRunner.RunAsync(Tools.Require("python3"), ["-c", """
                import socket, sys, os
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.settimeout(30)
                s.connect('\0' + sys.argv[1][1:])
                f = open(sys.argv[2], 'rb'); f.read(3)   # an offset of 3: the server reads from 0 anyway
                socket.send_fds(s, [b'sha256'], [f.fileno()]); print(s.recv(256).decode())
                s.send(b'memfd'); msg, fds, _, _ = socket.recv_fds(s, 256, 4)
                print(len(fds), os.pread(fds[0], 100, 0).decode(), end='')
                s.send(b'hi'); print(s.recv(256).decode())
                """, address, filePath]);

            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Equal(
                $"sha256:{Convert.ToHexStringLower(SHA256.HashData("hash me\n"u8))} size:8\n1 from the server\n1:2:HI\n",
                result.StandardOutput);
        }
        finally
        {
            File.Delete(filePath);
        }
    }

    [Fact]
    public async Task WebOverUdsSample_ClientSendFd_PrintsTheDigest_AndWhoamiHasALabel()
    {
        var path = TestPaths.SocketPath();
        await using var server = ExternalProcess.Start(ProcessRunner.Dotnet, [SampleApp.Dll, "--urls", "http://unix:" + path]);
        using var file = TempFile("sent as a descriptor\n", out var filePath);
        try
        {
            await server.WaitForLineAsync(l => l.Contains("Now listening on", StringComparison.Ordinal));

            var sent = await SampleApp.RunClientAsync("--send-fd", filePath, TestPaths.UnixUrl(path, "/files/sha256"));
            var none = await SampleApp.RunClientAsync(TestPaths.UnixUrl(path, "/whoami"));
            using var http = new HttpClient(UnixSocketHttpHandler.Create(path)) { BaseAddress = new Uri("http://localhost") };
            var withoutDescriptor = await http.PostAsync("/files/sha256", null).DefaultTimeout();

            Assert.True(sent.ExitCode == 0, sent.ToString());
            Assert.Equal($"{{\"sha256\":\"{Convert.ToHexStringLower(SHA256.HashData("sent as a descriptor\n"u8))}\",\"size\":21}}", sent.StandardOutput.Trim());
            Assert.Contains("\"label\":", none.StandardOutput);
            Assert.Equal(400, (int)withoutDescriptor.StatusCode);
            Assert.Contains("descriptor", await withoutDescriptor.Content.ReadAsStringAsync());
        }
        finally
        {
            File.Delete(filePath);
            TestPaths.DeleteQuietly(path);
        }
    }

    // Sends one descriptor (a path, or "fifo" for a new FIFO opened read-write so that opening never blocks) to the
    // WebOverUds sample's POST /files/sha256 or the SeqpacketMessages sample's "sha256"; prints the answer, or
    // leaves at once without reading it when told to.
    private const string SendOneDescriptor = """
        import socket, sys, os
        kind, address, target, leave = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == 'leave'
        if target.startswith('fifo:'):
            os.mkfifo(target[5:]); fd = os.open(target[5:], os.O_RDWR)
        else:
            fd = os.open(target, os.O_RDONLY)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM if kind == 'http' else socket.SOCK_SEQPACKET); s.settimeout(30)
        s.connect('\0' + address[1:] if address.startswith('@') else address)
        request = b'POST /files/sha256 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' if kind == 'http' else b'sha256'
        socket.send_fds(s, [request], [fd])
        if leave:
            s.close(); print('left'); sys.exit(0)
        data = b''
        while chunk := s.recv(65536):
            data += chunk
            if kind != 'http':
                break
        print(data.decode().replace('\r', ''))
        """;

    [ToolTheory("python3")]
    [InlineData("/dev/zero", "character device")]
    [InlineData("fifo", "FIFO")]
    public async Task WebOverUdsSample_RefusesADescriptorThatIsNotARegularFile(string target, string named)
    {
        var path = TestPaths.SocketPath();
        var fifo = TestPaths.SocketPath() + ".fifo";
        await using var server = ExternalProcess.Start(ProcessRunner.Dotnet, [SampleApp.Dll, "--urls", "http://unix:" + path]);
        try
        {
            await server.WaitForLineAsync(l => l.Contains("Now listening on", StringComparison.Ordinal));

            // Before: /dev/zero and the FIFO were read for ever (and the test timed out).
            var result = await ProcessRunner.RunAsync(Tools.Require("python3"), ["-c", SendOneDescriptor, "http", path, target == "fifo" ? "fifo:" + fifo : target, "stay"]);

            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.StartsWith("HTTP/1.1 415", result.StandardOutput);
            Assert.Contains($"Not hashed: the descriptor is a {named}", result.StandardOutput);
        }
        finally
        {
            File.Delete(fifo);
            TestPaths.DeleteQuietly(path);
        }
    }

    [ToolFact("python3")]
    public async Task Samples_StopHashingWhenTheClientLeaves()
    {
        var path = TestPaths.SocketPath();
        var address = TestPaths.AbstractAddress();
        // A sparse terabyte: hours of hashing, unless the client's leaving stops it.
        var big = TestPaths.SocketPath() + ".sparse";
        using (var file = File.Open(big, FileMode.CreateNew))
        {
            file.SetLength(1L << 40);
        }
        const string noCap = "1200000000000";
        // Kestrel says when a connection's handler has ended: "Connection id … stopped." (each sample serves one here).
        const string connectionsLog = "--Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel.Connections=Debug";
        await using var web = ExternalProcess.Start(ProcessRunner.Dotnet, [SampleApp.Dll, "--urls", "http://unix:" + path, "--max-file-size", noCap, connectionsLog]);
        await using var messages = ExternalProcess.Start(ProcessRunner.Dotnet, [Path.Combine(AppContext.BaseDirectory, "SeqpacketMessages.dll"), address, "--max-file-size", noCap, connectionsLog]);
        try
        {
            await web.WaitForLineAsync(l => l.Contains("Now listening on", StringComparison.Ordinal));
            await messages.WaitForLineAsync(l => l.StartsWith("Message server on seqpacket", StringComparison.Ordinal));

            var http = await ProcessRunner.RunAsync(Tools.Require("python3"), ["-c", SendOneDescriptor, "http", path, big, "leave"]);
            var packet = await ProcessRunner.RunAsync(Tools.Require("python3"), ["-c", SendOneDescriptor, "seqpacket", address, big, "leave"]);

            // Each handler ends (before: both hashed on, and neither connection ever stopped).
            Assert.True(http.ExitCode == 0 && packet.ExitCode == 0, http + "\n" + packet);
            await web.WaitForLineAsync(l => l.Contains("\" stopped.", StringComparison.Ordinal));
            await messages.WaitForLineAsync(l => l.Contains("\" stopped.", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(big);
            TestPaths.DeleteQuietly(path);
        }
    }

    [ToolFact("python3")]
    public async Task SeqpacketMessagesSample_RefusesDevZero_AndAFileOverItsCap()
    {
        var address = TestPaths.AbstractAddress();
        await using var sample = ExternalProcess.Start(ProcessRunner.Dotnet, [Path.Combine(AppContext.BaseDirectory, "SeqpacketMessages.dll"), address, "--max-file-size", "4"]);
        await sample.WaitForLineAsync(l => l.StartsWith("Message server on seqpacket", StringComparison.Ordinal));
        using var file = TempFile("five!", out var filePath);
        try
        {
            var zero = await ProcessRunner.RunAsync(Tools.Require("python3"), ["-c", SendOneDescriptor, "seqpacket", address, "/dev/zero", "stay"]);
            var tooBig = await ProcessRunner.RunAsync(Tools.Require("python3"), ["-c", SendOneDescriptor, "seqpacket", address, filePath, "stay"]);

            Assert.Equal("error: the descriptor is a character device, not a regular file", zero.StandardOutput.Trim());
            Assert.Equal("error: the file is 5 bytes; the limit is 4", tooBig.StandardOutput.Trim());
        }
        finally
        {
            File.Delete(filePath);
        }
    }

    [Fact]
    public async Task WebOverUdsSample_Pair_ChildServesTheInheritedEnd_AndExitsZero()
    {
        var result = await ProcessRunner.RunAsync(ProcessRunner.Dotnet, [SampleApp.Dll, "pair"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("GET /plaintext: Hello, World!", result.StandardOutput);
        Assert.Matches("GET /whoami: \\{\"pid\":[0-9]+,\"uid\":[0-9]+,\"gid\":[0-9]+,\"user\":.*,\"label\":", result.StandardOutput);
    }

    private static SafeFileHandle TempFile(string content, out string path)
    {
        path = TestPaths.SocketPath() + ".txt";
        File.WriteAllText(path, content);
        return File.OpenHandle(path);
    }

    private static string Read(SafeFileHandle file)
    {
        var buffer = new byte[256];
        return Encoding.UTF8.GetString(buffer, 0, RandomAccess.Read(file, buffer, 0));
    }
}
