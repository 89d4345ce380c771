using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>Connect failures say which socket and which errno, keep the SocketException, and honour timeouts.</summary>
public sealed class ConnectErrorTests
{
    private static async Task<HttpRequestException> FailAsync(string url)
    {
        using var http = new HttpClient(new UnixSocketHttpHandler());
        return await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(url)).DefaultTimeout();
    }

    private static void AssertNames(HttpRequestException error, string address, string errno)
    {
        Assert.Contains($"'{address}'", error.Message);
        Assert.Contains(errno, error.Message);
        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
        Assert.IsAssignableFrom<SocketException>(error.InnerException);
    }

    [Fact]
    public async Task NoSocketFile_IsENOENT()
    {
        var path = TestPaths.SocketPath();

        var error = await FailAsync(TestPaths.UnixUrl(path, "/"));

        AssertNames(error, path, "ENOENT (No such file or directory)");
        Assert.Contains("is the server running", error.Message);
    }

    [Fact]
    public async Task NoSocketFile_ViaTheHandlerFactory_IsENOENT()
    {
        var path = TestPaths.SocketPath();
        using var http = new HttpClient(UnixSocketHttpHandler.Create(path)) { BaseAddress = new("http://localhost") };

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/")).DefaultTimeout();

        AssertNames(error, path, "ENOENT");
        Assert.DoesNotContain(".invalid", error.Message);
    }

    [Fact]
    public async Task StaleSocketFile_IsECONNREFUSED()
    {
        var path = TestPaths.SocketPath();
        try
        {
            NativeSocket.BindListenAndCloseWithoutUnlink(path, seqpacket: false);

            var error = await FailAsync(TestPaths.UnixUrl(path, "/"));

            AssertNames(error, path, "ECONNREFUSED (Connection refused)");
            Assert.Contains("stale socket file", error.Message);
            Assert.Equal(SocketError.ConnectionRefused, ((SocketException)error.InnerException!).SocketErrorCode);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task AbstractAddressWithNoListener_IsECONNREFUSED()
    {
        var address = TestPaths.AbstractAddress();

        var error = await FailAsync(TestPaths.UnixUrl(address, "/"));

        AssertNames(error, address, "ECONNREFUSED");
        Assert.Contains("abstract address", error.Message);
    }

    [Fact]
    public async Task ParentIsAFile_IsENOTDIR()
    {
        var file = Path.Combine(TestPaths.NewDirectory(), "f");
        try
        {
            File.WriteAllText(file, "not a directory");
            var path = file + "/app.sock";

            var error = await FailAsync(TestPaths.UnixUrl(path, "/"));

            // The runtime reports this errno as "Unknown socket error"; the message still names it.
            AssertNames(error, path, "ENOTDIR");
        }
        finally
        {
            TestPaths.DeleteQuietly(Path.GetDirectoryName(file)!);
        }
    }

    [Fact]
    public async Task PathTooLong_InAUrl_IsENAMETOOLONG_NeverTruncated()
    {
        var path = "/tmp/" + new string('a', 103) + ".sock"; // 113 bytes

        var error = await FailAsync(TestPaths.UnixUrl(path, "/"));

        AssertNames(error, path, "ENAMETOOLONG");
        Assert.Contains("113 bytes", error.Message);
        // A real SocketError (not the errno cast to one); the errno itself travels in Data.
        var socketError = (SocketException)error.InnerException!;
        Assert.Equal(SocketError.InvalidArgument, socketError.SocketErrorCode);
        Assert.Equal(36, socketError.Data["errno"]);
    }

    [Fact]
    public void PathTooLong_ForTheHandlerFactory_FailsAtOnce()
    {
        var path = "/tmp/" + new string('b', 103) + ".sock";

        var error = Assert.ThrowsAny<ArgumentException>(() => UnixSocketHttpHandler.Create(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("ENAMETOOLONG", error.Message);
    }

    [Fact]
    public async Task RelativePath_IsRefused_InAUrlAndInTheFactory()
    {
        var error = await FailAsync("http+unix://app.sock/");
        var early = Assert.ThrowsAny<ArgumentException>(() => UnixSocketHttpHandler.Create("app.sock"));

        Assert.Contains("'app.sock'", error.Message);
        Assert.Contains("relative; use an absolute path", error.Message);
        Assert.Contains("relative; use an absolute path", early.Message);
    }

    [Fact]
    public async Task RawConnectCallback_ErrorNamesTheSocket_InsideSocketsHttpHandlersWrapper()
    {
        var path = TestPaths.SocketPath();
        using var http = new HttpClient(new SocketsHttpHandler { ConnectCallback = UnixSocketConnectCallback.Create(path), UseProxy = false });

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("http://localhost/")).DefaultTimeout();

        Assert.Contains($"'{path}'", error.Message);
        Assert.Contains("ENOENT", error.Message);
        var ours = Assert.IsAssignableFrom<HttpRequestException>(error.InnerException);
        Assert.IsAssignableFrom<SocketException>(ours.InnerException);
    }

    [ToolFact("setpriv")]
    public async Task PermissionDenied_IsEACCES()
    {
        var path = TestPaths.SocketPath();
        await using var server = await TestServer.StartAsync("private", k => k.ListenUnixSocket(path), ServerTransport.Native, path);
        File.SetUnixFileMode(path, UnixFileMode.None); // connecting needs write permission on the file

        if (Environment.IsPrivilegedProcess)
        {
            // Root bypasses file permissions: ask as user nobody, through the sample's client mode.
            var result = await SampleApp.RunClientAsNobodyAsync(TestPaths.UnixUrl(path, "/plaintext"));

            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.Contains($"'{path}'", result.StandardError);
            Assert.Contains("EACCES (Permission denied)", result.StandardError);
            Assert.Contains("uid 65534", result.StandardError);
            Assert.Empty(result.StandardOutput);
        }
        else
        {
            var error = await FailAsync(TestPaths.UnixUrl(path, "/plaintext"));

            AssertNames(error, path, "EACCES (Permission denied)");
            Assert.Equal(SocketError.AccessDenied, ((SocketException)error.InnerException!).SocketErrorCode);
        }
    }

    [Fact]
    public async Task FullBacklog_IsRetried_UntilTheServerAccepts()
    {
        await using var backlog = await FullBacklog.CreateAsync();
        using var http = new HttpClient(new UnixSocketHttpHandler());

        var request = http.GetStringAsync(TestPaths.UnixUrl(backlog.Path, "/"));
        // Free the queue: accept and drop the fillers; the client's retried connect then gets in.
        foreach (var _ in backlog.Fillers)
        {
            (await backlog.Listener.AcceptAsync().DefaultTimeout()).Dispose();
        }
        using var connection = await backlog.Listener.AcceptAsync().DefaultTimeout();
        var head = new byte[1024];
        var read = await connection.ReceiveAsync(head).DefaultTimeout();
        Assert.StartsWith("GET / HTTP/1.1", System.Text.Encoding.ASCII.GetString(head, 0, read));
        await connection.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray()).DefaultTimeout();

        Assert.Equal("ok", await request.DefaultTimeout());
    }

    [Fact]
    public async Task FullBacklog_HonoursConnectTimeout()
    {
        await using var backlog = await FullBacklog.CreateAsync();
        var handler = new UnixSocketHttpHandler(new UnixSocketClientOptions(), new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromMilliseconds(200) });
        using var http = new HttpClient(handler);

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => http.GetAsync(TestPaths.UnixUrl(backlog.Path, "/"))).DefaultTimeout();

        Assert.IsType<TimeoutException>(error.InnerException);
    }

    [Fact]
    public async Task FullBacklog_HonoursCancellation()
    {
        await using var backlog = await FullBacklog.CreateAsync();
        using var http = new HttpClient(new UnixSocketHttpHandler());
        using var cancel = new CancellationTokenSource();

        var request = http.GetAsync(TestPaths.UnixUrl(backlog.Path, "/"), cancel.Token);
        cancel.CancelAfter(100);

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request).DefaultTimeout();
        Assert.Equal(cancel.Token, error.CancellationToken);
    }
}

/// <summary>A listener that never accepts, with its queue filled until connect gets EAGAIN.</summary>
internal sealed class FullBacklog : IAsyncDisposable
{
    private FullBacklog(string path, Socket listener, List<Socket> fillers)
    {
        Path = path;
        Listener = listener;
        Fillers = fillers;
    }

    public string Path { get; }

    public Socket Listener { get; }

    public List<Socket> Fillers { get; }

    public static async Task<FullBacklog> CreateAsync()
    {
        var path = TestPaths.SocketPath();
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(0);
        var fillers = new List<Socket>();
        while (true)
        {
            var filler = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await filler.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
                fillers.Add(filler);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
            {
                filler.Dispose();
                return new FullBacklog(path, listener, fillers);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var filler in Fillers)
        {
            filler.Dispose();
        }
        Listener.Dispose();
        File.Delete(Path);
        return ValueTask.CompletedTask;
    }
}
