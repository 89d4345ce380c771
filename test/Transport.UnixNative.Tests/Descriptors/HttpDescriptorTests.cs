using Transport.UnixNative.Client;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Tests.Seqpacket;

namespace Transport.UnixNative.Tests.Descriptors;

/// <summary>Descriptors with HTTP requests (IUnixFileDescriptorsFeature): which request gets which, and none left open.</summary>
public sealed class HttpDescriptorTests
{
    internal const string Python = MessageDescriptorTests.Python + "\n" + """
        def responses(s, count):
            # Reads `count` HTTP/1.1 responses with Content-Length or chunked bodies; returns their bodies.
            data, bodies = b'', []
            while len(bodies) < count:
                chunk = s.recv(65536)
                if not chunk:
                    raise SystemExit('closed after %d responses' % len(bodies))
                data += chunk
                while True:
                    head, sep, rest = data.partition(b'\r\n\r\n')
                    if not sep:
                        break
                    lines = head.lower().split(b'\r\n')
                    if b'transfer-encoding: chunked' in lines:
                        end = rest.find(b'\r\n0\r\n\r\n')
                        if end < 0:
                            break
                        size, _, body = rest[:end].partition(b'\r\n')
                        bodies.append(body.decode()); data = rest[end + 7:]
                    else:
                        length = int([l.split(b':')[1] for l in lines if l.startswith(b'content-length')][0])
                        if len(rest) < length:
                            break
                        bodies.append(rest[:length].decode()); data = rest[length:]
            return bodies
        def post(path, body=b''):
            return b'POST ' + path + b' HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % len(body) + body
        """;

    [ToolTheory("python3")]
    [InlineData("stream")]
    [InlineData("seqpacket")]
    public async Task PipelinedRequests_EachGetsTheDescriptorsSentWithItsOwnBytes(string kind)
    {
        await using var host = await DescriptorHost.StartAsync();
        using var first = TestFiles.Create("first\n");
        using var second = TestFiles.Create("second\n");

        var output = await PythonPeer.RunAsync(Python + """

            s = connect(sys.argv[1], socket.SOCK_SEQPACKET if sys.argv[2] == 'seqpacket' else socket.SOCK_STREAM)
            a, b = open(sys.argv[3], 'rb'), open(sys.argv[4], 'rb')
            # Three requests in a row before reading any response: the first with two descriptors,
            # the second with one, the third with none.
            socket.send_fds(s, [post(b'/fd/sha256')], [a.fileno(), b.fileno()])
            socket.send_fds(s, [post(b'/fd/sha256')], [b.fileno()])
            s.send(post(b'/fd/sha256'))
            print('\n'.join(responses(s, 3)))
            """, kind == "stream" ? host.StreamPath : host.SeqpacketPath, kind, first.Path, second.Path);

        Assert.Equal(
            [$"{TestFiles.Sha256Of("first\n")} count:2", $"{TestFiles.Sha256Of("second\n")} count:1", "count:0"],
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [ToolFact("python3")]
    public async Task PipelinedGets_UntakenDescriptorsEndWithTheirRequest_AndRequestsWithoutNeverSeeAny()
    {
        await using var host = await DescriptorHost.StartAsync();
        using var first = TestFiles.Create("first\n");
        using var second = TestFiles.Create("second\n");

        var output = await PythonPeer.RunAsync(Python + """

            s = connect(sys.argv[1], socket.SOCK_STREAM)
            a, b = open(sys.argv[2], 'rb'), open(sys.argv[3], 'rb')
            def get(path):
                return b'GET ' + path + b' HTTP/1.1\r\nHost: x\r\n\r\n'
            # Bodiless requests in a row: one with a descriptor it leaves, one with none (must not
            # inherit it), one with its own, one with none again; and one with none on a fresh connection.
            socket.send_fds(s, [get(b'/fd/count')], [a.fileno()])
            s.send(get(b'/fd/count'))
            socket.send_fds(s, [get(b'/fd/count')], [b.fileno()])
            s.send(get(b'/fd/count'))
            print('\n'.join(responses(s, 4)))
            t = connect(sys.argv[1], socket.SOCK_STREAM)
            t.send(get(b'/fd/count'))
            print('\n'.join(responses(t, 1)))
            """, host.StreamPath, first.Path, second.Path);

        Assert.Equal(["count:1", "count:0", "count:1", "count:0", "count:0"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [ToolFact("python3")]
    public async Task DescriptorSentWithBodyBytes_IsTheRequestsOnceTheBodyIsRead_AndAnUnreadOnesNeverReachTheNextRequest()
    {
        await using var host = await DescriptorHost.StartAsync();
        using var file = TestFiles.Create("in the body\n");

        var output = await PythonPeer.RunAsync(Python + """

            s = connect(sys.argv[1], socket.SOCK_STREAM)
            f = open(sys.argv[2], 'rb')
            whole = post(b'/fd/after-body', b'0123456789')
            s.send(whole[:-10])                              # headers
            socket.send_fds(s, [whole[-10:]], [f.fileno()])  # the body carries the descriptor
            print(responses(s, 1)[0])
            # A handler that reads no body: its body's descriptor is closed when it ends, not handed on.
            unread = post(b'/fd/ignore', b'0123456789')
            s.send(unread[:-10]); socket.send_fds(s, [unread[-10:]], [f.fileno()])
            s.send(post(b'/fd/sha256'))
            print('\n'.join(responses(s, 2)))
            """, host.StreamPath, file.Path);

        Assert.Equal(
            [$"before:0 after:1 {TestFiles.Sha256Of("in the body\n")}", "ignored", "count:0"],
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task HttpClient_SendsADescriptorWithItsRequest_AndOnlyThatRequestGetsIt()
    {
        await using var host = await DescriptorHost.StartAsync();
        using var file = TestFiles.Create("from the client\n");
        using var handle = File.OpenHandle(file.Path);
        using var http = new HttpClient(UnixSocketHttpHandler.Create(host.StreamPath)) { BaseAddress = new Uri("http://localhost") };

        var before = await http.PostAsync("/fd/sha256", null).DefaultTimeout();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/fd/sha256");
        request.Options.Set(UnixSocketHttpHandler.DescriptorsOption, [handle, handle]);
        var with = await http.SendAsync(request).DefaultTimeout();
        // With a body in the same first write: the head alone carries them, so the handler has them before reading it.
        using var withBody = new HttpRequestMessage(HttpMethod.Post, "/fd/sha256") { Content = new StringContent("a small body") };
        withBody.Options.Set(UnixSocketHttpHandler.DescriptorsOption, [handle]);
        var withBodyResponse = await http.SendAsync(withBody).DefaultTimeout();
        var after = await http.PostAsync("/fd/sha256", null).DefaultTimeout();
        using var seqpacket = new HttpClient(UnixSocketHttpHandler.Create(host.SeqpacketPath, o => o.SocketType = System.Net.Sockets.SocketType.Seqpacket))
        {
            BaseAddress = new Uri("http://localhost"),
        };
        using var overSeqpacket = new HttpRequestMessage(HttpMethod.Post, "/fd/sha256");
        overSeqpacket.Options.Set(UnixSocketHttpHandler.DescriptorsOption, [handle]);
        var withSeqpacket = await seqpacket.SendAsync(overSeqpacket).DefaultTimeout();

        Assert.Equal("count:0", await before.Content.ReadAsStringAsync());
        Assert.Equal($"{TestFiles.Sha256Of("from the client\n")} count:2", await with.Content.ReadAsStringAsync());
        Assert.Equal($"{TestFiles.Sha256Of("from the client\n")} count:1", await withBodyResponse.Content.ReadAsStringAsync());
        Assert.Equal("count:0", await after.Content.ReadAsStringAsync());
        Assert.Equal($"{TestFiles.Sha256Of("from the client\n")} count:1", await withSeqpacket.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task HttpClient_RefusesDescriptorsOverHttp2()
    {
        using var file = TestFiles.Memory("x");
        using var http = new HttpClient(UnixSocketHttpHandler.Create("/tmp/never-connected.sock"));
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://localhost/") { Version = System.Net.HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Options.Set(UnixSocketHttpHandler.DescriptorsOption, [file]);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => http.SendAsync(request)).DefaultTimeout();
        Assert.Contains("HTTP/1.1", error.Message);
    }

    [Fact]
    public async Task UntakenDescriptors_AreClosedWhenTheirRequestEnds()
    {
        await using var host = await DescriptorHost.StartAsync();
        using var file = TestFiles.Memory("x");
        using var http = new HttpClient(UnixSocketHttpHandler.Create(host.StreamPath)) { BaseAddress = new Uri("http://localhost") };

        for (var i = 0; i < 200; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/fd/ignore");
            request.Options.Set(UnixSocketHttpHandler.DescriptorsOption, [file]);
            using var response = await http.SendAsync(request).DefaultTimeout();
            Assert.Equal("ignored", await response.Content.ReadAsStringAsync());
        }

        // Closed when each request ended (before its connection closed): check once, so that copies left to
        // finalizers would still count. The server may still be finishing the last request's end.
        Assert.True(await Poll.UntilAsync(() => TestFiles.OpenCopies(file) <= 2), $"{TestFiles.OpenCopies(file)} copies open");
    }

    [ToolFact("python3")]
    public async Task APeerQueueingMoreThan1024UntakenDescriptors_IsDisconnected()
    {
        await using var host = await DescriptorHost.StartAsync();

        var output = await PythonPeer.RunAsync(Python + """

            s = connect(sys.argv[1], socket.SOCK_STREAM)
            # Header bytes that never end a request, each carrying 253 descriptors: nobody can take them.
            try:
                for i in range(5):
                    socket.send_fds(s, [b'X-Pad: %d\r\n' % i if i else b'POST /fd/sha256 HTTP/1.1\r\n'], [0] * 253)
                print(repr(s.recv(100)))
            except (BrokenPipeError, ConnectionResetError):
                print("b''")
            """, host.StreamPath);

        Assert.Equal("b''", output.Trim());
        Assert.Contains(host.Logs.Entries, e => e.Id.Id == 101);
    }
}
