using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Listener;

/// <summary>The socket file's life: refuse what is not ours, replace what is stale, remove only our own.</summary>
public class SocketFileLifecycleTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private async Task<Exception> StartFailsAsync(HostSpec spec)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await SampleHost.StartAsync(spec with { PlainHost = true });
        });
        error = Unwrap(error);
        // What the user reads at startup, kept in the test log.
        output.WriteLine(error.ToString());
        return error;
    }

    /// <summary>The host may wrap the server's exception; the innermost meaningful one is what a user reads.</summary>
    private static Exception Unwrap(Exception error)
    {
        while (error is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            error = aggregate.InnerExceptions[0];
        }
        return error;
    }

    private static HostSpec Urls(string path) => new() { Urls = "http://unix:" + path };

    private static async Task AssertServesAsync(string path)
    {
        using var client = UnixClient.CreateHttpClient(new ServerAddress(path));
        Assert.Equal("Hello, World!", await client.GetStringAsync("/plaintext").DefaultTimeout());
    }

    [Fact]
    public async Task Bind_PathOf108Bytes_FailsNamingPathAndENAMETOOLONG()
    {
        var path = "/tmp/un-" + TestPaths.Hex8() + "-" + new string('a', 108 - 22) + ".sock";
        Assert.Equal(108, path.Length);
        var error = await StartFailsAsync(new HostSpec { Listen = o => o.ListenUnixSeqpacket(path) });
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("ENAMETOOLONG", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Bind_StreamPathOf108BytesInUrls_FailsNamingPathAndENAMETOOLONG()
    {
        var path = "/tmp/un-" + TestPaths.Hex8() + "-" + new string('b', 108 - 22) + ".sock";
        var error = await StartFailsAsync(Urls(path));
        // The transport checks --urls paths before the runtime's endpoint does (its message hides the 107-byte limit).
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("ENAMETOOLONG", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Bind_PathOf107Bytes_Serves()
    {
        using var paths = new TempPaths();
        var path = paths.Add("/tmp/un-" + TestPaths.Hex8() + "-" + new string('c', 107 - 22) + ".sock");
        Assert.Equal(107, path.Length);
        await using var host = await SampleHost.StartAsync(Urls(path));
        await AssertServesAsync(path);
    }

    [Fact]
    public async Task Bind_RelativeUnixDomainSocketEndPoint_FailsWithClearError()
    {
        var error = await StartFailsAsync(new HostSpec { Listen = o => o.Listen(new UnixDomainSocketEndPoint("un-relative.sock")) });
        Assert.Contains("'un-relative.sock' is relative", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists("un-relative.sock"));
    }

    [Fact]
    public async Task Bind_AtNameAsUnixDomainSocketEndPoint_RefusedAsRelativePath()
    {
        // new UnixDomainSocketEndPoint("@x") names a file "@x" in the working directory, not an abstract socket.
        var name = "@" + TestPaths.AbstractName();
        var error = await StartFailsAsync(new HostSpec { Listen = o => o.Listen(new UnixDomainSocketEndPoint(name)) });
        Assert.Contains($"'{name}' is relative", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(name));
    }

    [Fact]
    public async Task Bind_RelativeSeqpacketPath_FailsWithClearError()
    {
        var error = await StartFailsAsync(new HostSpec { Listen = o => o.ListenUnixSeqpacket("run/un.sock") });
        Assert.Contains("'run/un.sock' is relative", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bind_MissingDirectory_FailsNamingDirectory()
    {
        var directory = "/tmp/un-" + TestPaths.Hex8() + "-missing";
        var path = directory + "/s.sock";
        var error = await StartFailsAsync(Urls(path));
        Assert.IsType<DirectoryNotFoundException>(error);
        Assert.Contains($"directory '{directory}' does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("ENOENT", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task Bind_StaleSocketFile_ReplacedAndServed()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        // A socket bound and closed without unlink, like a server that crashed. (.NET's Socket unlinks
        // the file it bound when disposed, so the leftover is made with plain libc calls.)
        NativeSocket.BindListenAndCloseWithoutUnlink(path, seqpacket: false);
        Assert.True(IsSocketFile(path), "the stale socket file should exist before the server starts");

        await using var host = await SampleHost.StartAsync(Urls(path));
        await AssertServesAsync(path);
        Assert.Contains(host.Logs.Entries, e => e.EventId.Name == "StaleSocketRemoved" && e.Message.Contains(path, StringComparison.Ordinal));
    }

    [ToolFact("curl")]
    public async Task Bind_PathWithLiveServer_FailsWithAddressInUse_FirstKeepsServing()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        await using var first = await SampleHost.StartAsync(Urls(path));

        var error = await StartFailsAsync(Urls(path));
        // Kestrel wraps the transport's AddressInUseException in an IOException naming the endpoint.
        var inUse = Assert.IsType<AddressInUseException>(error.InnerException);
        Assert.Contains(path, inUse.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);

        // The loser must not have removed the winner's file.
        Assert.True(IsSocketFile(path));
        var (status, body) = await Curl.GetAsync(path, "/plaintext");
        Assert.Equal(200, status);
        Assert.Equal("Hello, World!", body);
    }

    [Fact]
    public async Task Bind_PathWithLiveServerOfOtherSocketType_FailsWithAddressInUse()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        await using var first = await SampleHost.StartAsync(Urls(path));

        var error = await StartFailsAsync(new HostSpec { Listen = o => o.ListenUnixSeqpacket(path) });
        var inUse = Assert.IsType<AddressInUseException>(error.InnerException);
        Assert.Contains(path, inUse.Message, StringComparison.Ordinal);
        Assert.Contains("EPROTOTYPE", inUse.Message, StringComparison.Ordinal);
        await AssertServesAsync(path);
    }

    [Fact]
    public async Task Bind_RegularFileAtPath_RefusedAndLeftUntouched()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        await File.WriteAllTextAsync(path, "precious data\n");
        var before = File.GetLastWriteTimeUtc(path);

        var error = await StartFailsAsync(Urls(path));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("a regular file, not a socket", error.Message, StringComparison.Ordinal);
        Assert.Equal("precious data\n", await File.ReadAllTextAsync(path));
        Assert.Equal(before, File.GetLastWriteTimeUtc(path));
    }

    [Fact]
    public async Task Bind_DirectoryAtPath_RefusedAndLeftUntouched()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        Directory.CreateDirectory(path);
        await File.WriteAllTextAsync(Path.Combine(path, "keep.txt"), "keep");

        var error = await StartFailsAsync(Urls(path));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("a directory, not a socket", error.Message, StringComparison.Ordinal);
        Assert.True(Directory.Exists(path));
        Assert.Equal("keep", await File.ReadAllTextAsync(Path.Combine(path, "keep.txt")));
    }

    [Fact]
    public async Task Stop_RemovesSocketFile()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        var host = await SampleHost.StartAsync(Urls(path));
        Assert.True(IsSocketFile(path));
        await AssertServesAsync(path);
        await host.StopAsync();
        Assert.False(File.Exists(path), "the socket file should be removed at shutdown");
        Assert.Contains(host.Logs.Entries, e => e.EventId.Name == "SocketFileRemoved");
    }

    [Fact]
    public async Task Stop_SocketFileReplacedBySuccessor_LeftAlone()
    {
        using var paths = new TempPaths();
        var path = paths.SocketPath();
        var host = await SampleHost.StartAsync(Urls(path));
        try
        {
            // A successor (e.g. the next version during a rolling restart) takes over the path.
            File.Delete(path);
            using var successor = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            successor.Bind(new UnixDomainSocketEndPoint(path));
            successor.Listen();
            var successorInode = Inode(path);

            await host.StopAsync();

            Assert.True(IsSocketFile(path), "the successor's socket file must survive the old server's shutdown");
            Assert.Equal(successorInode, Inode(path));
            Assert.Contains(host.Logs.Entries, e => e.EventId.Name == "SocketFileReplaced");
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await client.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
            using var accepted = await successor.AcceptAsync().DefaultTimeout();
            Assert.True(accepted.Connected);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    internal static bool IsSocketFile(string path)
        => Interop.FileSystem.TryGetStatus(path, out var status) == 0 && status.IsSocket;

    private static ulong Inode(string path)
        => Interop.FileSystem.TryGetStatus(path, out var status) == 0 ? status.Inode : throw new FileNotFoundException(path);
}
