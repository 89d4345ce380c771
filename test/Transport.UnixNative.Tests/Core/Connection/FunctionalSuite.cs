using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Tests.Connected;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>
/// The functional suite: the sample app in a real Kestrel, driven by real clients (HttpClient over a
/// ConnectCallback, raw sockets, curl, python). It runs once per configuration (see the classes at the end).
/// </summary>
public abstract partial class FunctionalSuite<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : HostFixture
{
    protected ServerAddress Address => fixture.Address;

    protected SampleHost Host => fixture.Host;

    private HttpClient CreateClient() => UnixClient.CreateHttpClient(Address);

    private void AssertServedByExpectedTransport(string connectionId)
    {
        var tracked = Host.Connections.Get(connectionId);
        if (fixture.Native)
        {
            Assert.Equal("Transport.UnixNative.Core.Connection.UnixConnection", tracked.TransportType);
            Assert.StartsWith("UDS", connectionId, StringComparison.Ordinal);
        }
        else
        {
            Assert.DoesNotContain("UnixNative", tracked.TransportType, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Get_Plaintext_ReturnsHelloWorld()
    {
        using var client = CreateClient();
        using var response = await client.GetAsync("/plaintext").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync().DefaultTimeout());
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        AssertServedByExpectedTransport(Assert.Single(response.Headers.GetValues("X-Connection-Id")));
    }

    [Fact]
    public async Task Get_Json_ReturnsGreeting()
    {
        using var client = CreateClient();
        var body = await client.GetStringAsync("/json").DefaultTimeout();
        Assert.Equal("{\"message\":\"Hello, World!\"}", body);
    }

    [Fact]
    public async Task Get_Bytes8MiB_ArrivesWhole()
    {
        const int length = 8 * 1024 * 1024;
        using var client = CreateClient();
        using var response = await client.GetAsync($"/bytes/{length}", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(length, response.Content.Headers.ContentLength);
        await using var body = await response.Content.ReadAsStreamAsync().DefaultTimeout();
        var buffer = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = await body.ReadAsync(buffer).DefaultTimeout()) > 0)
        {
            Assert.True(buffer.AsSpan(0, n).IndexOfAnyExcept((byte)'x') < 0, "the body holds a byte other than 'x'");
            total += n;
        }
        Assert.Equal(length, total);
    }

    [Fact]
    public async Task Get_OneWriteOf4MiB_ArrivesWholeAndInOrder()
    {
        const int size = 4 * 1024 * 1024;
        using var client = CreateClient();
        var body = await client.GetByteArrayAsync($"/test/one-write?n={size}").DefaultTimeout();
        Assert.Equal(size, body.Length);
        for (var i = 0; i < size; i++)
        {
            if (body[i] != (byte)(i * 7 + (i >> 12)))
            {
                Assert.Fail($"byte {i} is {body[i]}, expected {(byte)(i * 7 + (i >> 12))}");
            }
        }
    }

    [Fact]
    public async Task Post_Echo64MiB_ReturnsSameBytes()
    {
        const long length = 64L * 1024 * 1024;
        // Raw socket, sending and receiving at once: the echo streams back while the body is still
        // going out, and HttpClient's HTTP/1.1 would not read the response until it had sent everything.
        await using var stream = await UnixClient.ConnectAsync(Address);
        var sent = new PatternStream(length, seed: 12345);
        var send = Task.Run(async () =>
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n"));
            var chunk = new byte[64 * 1024];
            int n;
            while ((n = sent.Read(chunk)) > 0)
            {
                await stream.WriteAsync(chunk.AsMemory(0, n));
            }
        });
        var reader = new RawHttpReader(stream);
        var head = await reader.ReadHeadAsync().DefaultTimeout();
        Assert.NotNull(head);
        Assert.Equal(200, head.Value.Status);
        Assert.Equal(length.ToString(System.Globalization.CultureInfo.InvariantCulture), head.Value.Headers["Content-Length"]);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long received = 0;
        await reader.ReadBodyAsync(length, chunk =>
        {
            hash.AppendData(chunk.Span);
            received += chunk.Length;
        }).Timeout(TimeSpan.FromSeconds(60));
        await send.DefaultTimeout();
        Assert.Equal(length, received);
        Assert.Equal(Convert.ToHexString(sent.Sha256()), Convert.ToHexString(hash.GetHashAndReset()));
    }

    [Fact]
    public async Task KeepAlive_200ConcurrentConnections_AllAnsweredOnTheirOwnConnection()
    {
        const int connections = 200;
        const int requestsEach = 5;
        // Connect all first, so all 200 are open at once; then every one runs its requests concurrently.
        var streams = await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => UnixClient.ConnectAsync(Address))).DefaultTimeout();
        try
        {
            var ids = await Task.WhenAll(streams.Select(async (stream, index) =>
            {
                var reader = new RawHttpReader(stream);
                string? id = null;
                for (var i = 0; i < requestsEach; i++)
                {
                    var size = index * requestsEach + i;
                    await stream.WriteAsync(RawHttpReader.Get($"/bytes/{size}")).DefaultTimeout();
                    var response = await reader.ReadResponseAsync().DefaultTimeout();
                    Assert.NotNull(response);
                    Assert.Equal(200, response.Status);
                    Assert.Equal(size, response.Body.Length);
                    var connectionId = response.Header("X-Connection-Id");
                    Assert.NotNull(connectionId);
                    // Keep-alive: every request of this client arrived on one server connection.
                    Assert.Equal(id ?? connectionId, connectionId);
                    id = connectionId;
                }
                return id!;
            })).DefaultTimeout();
            Assert.Equal(connections, ids.Distinct().Count());
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Pipelined_16RequestsInOneWrite_16ResponsesInOrder()
    {
        await using var stream = await UnixClient.ConnectAsync(Address);
        var requests = new MemoryStream();
        for (var i = 1; i <= 16; i++)
        {
            // Distinct body sizes show the order: response i must be i bytes long.
            requests.Write(RawHttpReader.Get(i % 4 == 0 ? "/plaintext" : $"/bytes/{i}"));
        }
        Assert.True(requests.Length < SeqpacketStream.MaxPacket, "the 16 requests must fit one write");
        await stream.WriteAsync(requests.ToArray()).DefaultTimeout();
        var reader = new RawHttpReader(stream);
        for (var i = 1; i <= 16; i++)
        {
            var response = await reader.ReadResponseAsync().DefaultTimeout();
            Assert.NotNull(response);
            Assert.Equal(200, response.Status);
            if (i % 4 == 0)
            {
                Assert.Equal("Hello, World!", response.BodyText);
            }
            else
            {
                Assert.Equal(i, response.Body.Length);
            }
        }
    }

    [Fact]
    public async Task Send_PeerResetsMidResponse_ConnectionClosedAndServerKeepsServing()
    {
        string connectionId;
        using (var socket = await UnixClient.ConnectSocketAsync(Address))
        {
            await using var stream = Address.IsSeqpacket ? (Stream)new SeqpacketStream(socket) : new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(RawHttpReader.Get("/bytes/100000000")).DefaultTimeout();
            // Read the head and a little of the body, then close with the rest unread: on unix sockets
            // that makes the server's next send fail with EPIPE/ECONNRESET.
            var head = await ReadHeadAsync(stream);
            Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
            connectionId = HeaderValue(head, "X-Connection-Id");
            socket.Close();
        }
        var tracked = Host.Connections.Get(connectionId);
        await tracked.ClosedFired.Task.DefaultTimeout();
        await tracked.Ended.Task.DefaultTimeout();
        await AssertServesAsync();
    }

    [Fact]
    public async Task Receive_PeerResets_AbortsConnection()
    {
        string connectionId;
        using (var socket = await UnixClient.ConnectSocketAsync(Address))
        {
            await using var stream = Address.IsSeqpacket ? (Stream)new SeqpacketStream(socket) : new NetworkStream(socket, ownsSocket: false);
            // A body that never completes: the server is reading it when the client resets.
            var head = Encoding.ASCII.GetBytes("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 20000000\r\n\r\n");
            await stream.WriteAsync(head).DefaultTimeout();
            await stream.WriteAsync(new byte[256 * 1024]).DefaultTimeout();
            // The echo makes data arrive that the client never reads; closing then resets the connection.
            var responseHead = await ReadHeadAsync(stream);
            Assert.StartsWith("HTTP/1.1 200", responseHead, StringComparison.Ordinal);
            connectionId = HeaderValue(responseHead, "X-Connection-Id");
            // Only a close with data unread is a reset; the head may have been all that had arrived.
            Assert.True(await Poll.UntilAsync(() => socket.Available > 0), "no echoed data arrived after the head");
            socket.Close();
        }
        var tracked = Host.Connections.Get(connectionId);
        await tracked.ClosedFired.Task.DefaultTimeout();
        await tracked.Ended.Task.DefaultTimeout();
        if (fixture.Native)
        {
            // The transport saw the reset (ECONNRESET on receive or EPIPE on send) and said so, at debug level.
            Assert.Contains(Host.Logs.Entries, e => e.EventId.Name == "ConnectionReset" && e.Message.Contains(connectionId, StringComparison.Ordinal));
            Assert.DoesNotContain(Host.Logs.Entries, e => e.EventId.Name == "ConnectionError" && e.Message.Contains(connectionId, StringComparison.Ordinal));
        }
        await AssertServesAsync();
    }

    [Fact]
    public async Task PeerResets_WhileTheRequestBodyIsUnread_IsLoggedAsAReset()
    {
        string connectionId;
        using (var socket = await UnixClient.ConnectSocketAsync(Address))
        {
            // /test/slow never reads the body: with a 1-byte read buffer the transport's receive is paused
            // when the reset comes, and only the pending socket error tells it was one.
            var request = Encoding.ASCII.GetBytes("POST /test/slow HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n" + new string('x', 1000));
            await socket.SendAsync(request).DefaultTimeout();
            // Peeked, not read: the response stays queued, so closing resets the connection (ECONNRESET for the server).
            var peeked = "";
            var buffer = new byte[4096];
            Assert.True(await Poll.UntilAsync(() =>
            {
                if (socket.Available > 0)
                {
                    peeked = Encoding.ASCII.GetString(buffer, 0, socket.Receive(buffer, SocketFlags.Peek));
                }
                return peeked.Contains("\r\n\r\n", StringComparison.Ordinal);
            }), $"no response head arrived: '{peeked}'");
            Assert.StartsWith("HTTP/1.1 200", peeked, StringComparison.Ordinal);
            connectionId = HeaderValue(peeked[..peeked.IndexOf("\r\n\r\n", StringComparison.Ordinal)], "X-Connection-Id");
            socket.Close();
        }
        var tracked = Host.Connections.Get(connectionId);
        await tracked.ClosedFired.Task.DefaultTimeout();
        await tracked.Ended.Task.DefaultTimeout();
        if (fixture.Native)
        {
            // Said before ConnectionClosed lets the application end the connection, so it is there by now.
            Assert.Contains(Host.Logs.Entries, e => e.EventId.Name == "ConnectionReset" && e.Message.Contains(connectionId, StringComparison.Ordinal));
            Assert.DoesNotContain(Host.Logs.Entries, e => e.EventId.Name == "ConnectionError" && e.Message.Contains(connectionId, StringComparison.Ordinal));
        }
        await AssertServesAsync();
    }

    [Fact]
    public async Task Abort_WhileSendBlocked_ClosesConnection()
    {
        var key = TestPaths.Hex8();
        var gate = Host.Hooks.AbortGateFor(key);
        using (var socket = await UnixClient.ConnectSocketAsync(Address))
        {
            await socket.SendAsync(RawHttpReader.Get($"/test/abort-blocked?key={key}")).DefaultTimeout();
            var connectionId = await gate.WriteStarted.Task.DefaultTimeout();
            // Data has reached the client: the transport's send is past its read of the output pipe
            // and, with nobody reading, ends up waiting for the socket to become writable.
            Assert.True(await Poll.UntilAsync(() => socket.Available > 0), "no response data arrived");
            gate.AbortNow.TrySetResult();

            // Abort must end the blocked send and close the socket while the server runs on.
            var tracked = Host.Connections.Get(connectionId);
            await tracked.ClosedFired.Task.DefaultTimeout();
            await tracked.Ended.Task.DefaultTimeout();

            await using var stream = Address.IsSeqpacket ? (Stream)new SeqpacketStream(socket) : new NetworkStream(socket, ownsSocket: false);
            long received;
            try
            {
                received = await new RawHttpReader(stream).ReadToEndAsync().DefaultTimeout();
            }
            catch (IOException)
            {
                received = -1; // reset: also an end
            }
            Assert.True(received < 64L * 1024 * 1024, $"received {received} bytes of an aborted response");
        }
        await AssertServesAsync();
    }

    [Fact]
    public async Task HalfClose_AfterResponse_ServerClosesItsSide()
    {
        await using var stream = await UnixClient.ConnectAsync(Address);
        // Keep the write side open until the response is read: Kestrel drops a request followed at once by FIN.
        await stream.WriteAsync(RawHttpReader.Get("/plaintext")).DefaultTimeout();
        var reader = new RawHttpReader(stream);
        var response = await reader.ReadResponseAsync().DefaultTimeout();
        Assert.NotNull(response);
        Assert.Equal("Hello, World!", response.BodyText);
        var connectionId = response.Header("X-Connection-Id")!;

        stream.Socket().Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await reader.ReadToEndAsync().DefaultTimeout());
        await Host.Connections.Get(connectionId).ClosedFired.Task.DefaultTimeout();
    }

    // Far below the test host's keep-alive timeout (30 min): only the transport's own close can meet it.
    private static readonly TimeSpan PromptClose = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task HalfClose_RightAfterRequest_AnsweredThenClosedPromptly()
    {
        // Ten times: data, FIN and RDHUP arrive in one edge or several, whichever the scheduler makes of it.
        for (var i = 0; i < 10; i++)
        {
            using var socket = await UnixClient.ConnectSocketAsync(Address);
            await using var stream = Address.IsSeqpacket ? (Stream)new SeqpacketStream(socket) : new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(RawHttpReader.Get("/plaintext")).DefaultTimeout();
            socket.Shutdown(SocketShutdown.Send);
            var reader = new RawHttpReader(stream);
            var response = await reader.ReadResponseAsync().Timeout(PromptClose);
            if (fixture.Native)
            {
                // We answer and then close (Kestrel's Sockets transport gives such a client an empty reply).
                Assert.NotNull(response);
                Assert.Equal("Hello, World!", response.BodyText);
            }
            Assert.Equal(0, await reader.ReadToEndAsync().Timeout(PromptClose));
        }
    }

    [ToolFact("python3", "socat", "nc")]
    public async Task HalfClose_OutsideClients_AnsweredThenClosedPromptly()
    {
        // Python: sendall + shutdown(SHUT_WR), then read to EOF (a hang is a socket timeout).
        const string script = """
            import socket, sys
            kind = socket.SOCK_SEQPACKET if sys.argv[2] == 'seqpacket' else socket.SOCK_STREAM
            s = socket.socket(socket.AF_UNIX, kind)
            s.settimeout(10)
            a = sys.argv[1]
            s.connect('\0' + a[1:] if a.startswith('@') else a)
            s.sendall(b'GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n')
            s.shutdown(socket.SHUT_WR)
            data = b''
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            sys.stdout.write(data.decode())
            """;
        var python = await ProcessRunner.RunAsync("python3", ["-c", script, Address.Address, Address.IsSeqpacket ? "seqpacket" : "stream"], PromptClose * 2);
        Assert.True(python.ExitCode == 0, python.StandardError);
        AssertAnswered(python.StandardOutput);

        // socat ends once both directions ended (-t 60: it would wait a minute for a server that never closes).
        var socatAddress = (Address.IsAbstract ? "ABSTRACT-CONNECT:" + Address.Address[1..] : "UNIX-CONNECT:" + Address.Address)
            + (Address.IsSeqpacket ? ",type=5" : "");
        var socat = await ProcessRunner.RunAsync("sh", ["-c", "printf 'GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n' | socat -t 60 - \"$1\"", "sh", socatAddress], PromptClose);
        Assert.True(socat.ExitCode == 0, socat.StandardError);
        AssertAnswered(socat.StandardOutput);

        if (!Address.IsAbstract && !Address.IsSeqpacket)
        {
            // OpenBSD nc: -N shuts the socket down at the end of its input.
            var nc = await ProcessRunner.RunAsync("sh", ["-c", "printf 'GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n' | nc -N -U \"$1\"", "sh", Address.Address], PromptClose);
            Assert.True(nc.ExitCode == 0, nc.StandardError);
            AssertAnswered(nc.StandardOutput);
        }
    }

    [ToolFact("python3")]
    public async Task Request_FirstPartCarriesADescriptor_RestIsStillRead()
    {
        // The kernel ends a stream read after a message with SCM_RIGHTS: that short read is not "drained".
        // Twenty times, so the two parts are queued together before the server reads in some of them.
        const string script = """
            import socket, sys, os
            kind = socket.SOCK_SEQPACKET if sys.argv[2] == 'seqpacket' else socket.SOCK_STREAM
            a = sys.argv[1]
            for i in range(20):
                s = socket.socket(socket.AF_UNIX, kind)
                s.settimeout(10)
                s.connect('\0' + a[1:] if a.startswith('@') else a)
                fd = os.open('/dev/null', os.O_RDONLY)
                socket.send_fds(s, [b'GET /plaintext HTTP/1.1\r\n'], [fd])
                s.sendall(b'Host: localhost\r\nConnection: close\r\n\r\n')
                os.close(fd)
                data = b''
                while not data.endswith(b'Hello, World!'):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                assert data.startswith(b'HTTP/1.1 200 OK'), data
                s.close()
            print('ok')
            """;
        var python = await ProcessRunner.RunAsync("python3", ["-c", script, Address.Address, Address.IsSeqpacket ? "seqpacket" : "stream"], PromptClose * 3);
        Assert.True(python.ExitCode == 0, python.StandardError);
        Assert.Equal("ok", python.StandardOutput.Trim());
    }

    private void AssertAnswered(string output)
    {
        if (fixture.Native)
        {
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", output, StringComparison.Ordinal);
            Assert.EndsWith("\r\n\r\nHello, World!", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task PeerCloses_WhileHandlerWaits_RequestAbortedAndConnectionEnds()
    {
        const int clients = 20;
        var key = TestPaths.Hex8();
        var waits = Host.Hooks.WaitsFor(key);
        var before = Host.Connections.All.Select(c => c.Id).ToHashSet();
        var sockets = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => UnixClient.ConnectSocketAsync(Address))).DefaultTimeout();
        foreach (var socket in sockets)
        {
            await socket.SendAsync(RawHttpReader.Get($"/wait/600?key={key}")).DefaultTimeout();
        }
        Assert.True(await Poll.UntilAsync(() => waits.Started == clients), $"{waits.Started} of {clients} handlers started");
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }
        // Every handler learns that its client left (the handler would otherwise wait ten minutes).
        Assert.True(await Poll.UntilAsync(() => waits.Aborted == clients), $"{waits.Aborted} of {clients} handlers saw RequestAborted");
        var ours = Host.Connections.All.Where(c => !before.Contains(c.Id)).ToArray();
        Assert.Equal(clients, ours.Length);
        await Task.WhenAll(ours.Select(c => c.Ended.Task)).DefaultTimeout();
        await Task.WhenAll(ours.Select(c => c.ClosedFired.Task)).DefaultTimeout();
        await AssertServesAsync();
    }

    [Fact]
    public async Task Garbage_RandomBytes_Returns400OrCloses_ServerKeepsServing()
    {
        await using (var stream = await UnixClient.ConnectAsync(Address))
        {
            var garbage = new byte[4096];
            new Random(4242).NextBytes(garbage);
            garbage[0] = 0x01; // never a valid method character
            await stream.WriteAsync(garbage).DefaultTimeout();
            var reader = new RawHttpReader(stream);
            RawResponse? response;
            try
            {
                response = await reader.ReadResponseAsync().DefaultTimeout();
            }
            catch (IOException)
            {
                response = null; // reset: also an acceptable answer to garbage
            }
            if (response is not null)
            {
                Assert.Equal(400, response.Status);
            }
            // Either way the server ends this connection.
            try
            {
                await reader.ReadToEndAsync().DefaultTimeout();
            }
            catch (IOException)
            {
            }
        }
        await AssertServesAsync();
    }

    [Fact]
    public async Task ConnectionInfo_EndPointsNeverNull_RemoteIpReadsAsNull()
    {
        using var client = CreateClient();
        using var response = await client.GetAsync("/test/conn").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var info = (await response.Content.ReadAsStringAsync().DefaultTimeout())
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .ToDictionary(p => p[0], p => p[1]);
        Assert.Equal("present", info["feature"]);
        Assert.Equal(Assert.Single(response.Headers.GetValues("X-Connection-Id")), info["id"]);
        Assert.NotEqual("null", info["local"]);
        Assert.NotEqual("null", info["remote"]);
        // A unix peer has no IP address; middleware that reads it gets null instead of a crash.
        Assert.Equal("null", info["remoteIp"]);
        Assert.Equal("none", Assert.Single(response.Headers.GetValues("X-Remote-Ip")));
        if (fixture.Native)
        {
            // The local end is a UnixDomainSocketEndPoint for seqpacket too (Kestrel's meter recognises only that
            // type as unix); the remote end tells the socket type.
            var expectedType = Address.IsSeqpacket ? "UnixSeqpacketEndPoint" : "UnixDomainSocketEndPoint";
            Assert.StartsWith("UnixDomainSocketEndPoint:", info["local"], StringComparison.Ordinal);
            Assert.StartsWith(expectedType + ":", info["remote"], StringComparison.Ordinal);
            Assert.Contains(Address.Address, info["local"], StringComparison.Ordinal);
        }
    }

    [ToolFact("curl", "python3")]
    public async Task OutsideClient_GetPlaintext_Answers()
    {
        if (Address.IsSeqpacket)
        {
            // curl has no seqpacket support; Python's socket module is the outside peer.
            const string script = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.settimeout(20)
                s.connect(sys.argv[1])
                s.send(b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    packet = s.recv(262144)
                    if not packet:
                        break
                    data += packet
                sys.stdout.write(data.decode())
                """;
            var result = await ProcessRunner.RunAsync("python3", ["-c", script, Address.Address]);
            Assert.True(result.ExitCode == 0, result.StandardError);
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", result.StandardOutput, StringComparison.Ordinal);
            Assert.EndsWith("\r\n\r\nHello, World!", result.StandardOutput, StringComparison.Ordinal);
            return;
        }
        var (status, body) = await Curl.GetAsync(Address.Address, "/plaintext");
        Assert.Equal(200, status);
        Assert.Equal("Hello, World!", body);
        var (jsonStatus, json) = await Curl.GetAsync(Address.Address, "/json");
        Assert.Equal(200, jsonStatus);
        Assert.Equal("{\"message\":\"Hello, World!\"}", json);
    }

    /// <summary>A fresh connection gets a correct answer.</summary>
    protected async Task AssertServesAsync()
    {
        using var client = CreateClient();
        Assert.Equal("Hello, World!", await client.GetStringAsync("/plaintext").DefaultTimeout());
    }

    /// <summary>Reads until the end of the response head (the body's first bytes may follow and are left unread).</summary>
    private static async Task<string> ReadHeadAsync(Stream stream)
    {
        var collected = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            var n = await stream.ReadAsync(buffer).DefaultTimeout();
            if (n == 0)
            {
                throw new IOException("The connection ended before the response head.");
            }
            collected.Write(buffer, 0, n);
            var text = Encoding.ASCII.GetString(collected.GetBuffer(), 0, (int)collected.Length);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                return text[..end];
            }
        }
    }

    private static string HeaderValue(string head, string name)
    {
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            {
                return line[(name.Length + 1)..].Trim();
            }
        }
        throw new InvalidOperationException($"No {name} header in: {head}");
    }
}

public sealed class StreamPathTests(StreamPathFixture fixture) : FunctionalSuite<StreamPathFixture>(fixture);

public sealed class StreamAbstractTests(StreamAbstractFixture fixture) : FunctionalSuite<StreamAbstractFixture>(fixture);

public sealed class SeqpacketPathTests(SeqpacketPathFixture fixture) : FunctionalSuite<SeqpacketPathFixture>(fixture);

public sealed class InlineSchedulingPathTests(InlineSchedulingPathFixture fixture) : FunctionalSuite<InlineSchedulingPathFixture>(fixture);

public sealed class SeqpacketSmallBuffersTests(SeqpacketSmallBuffersFixture fixture) : FunctionalSuite<SeqpacketSmallBuffersFixture>(fixture);

/// <summary>The same suite against Kestrel's own Sockets transport on a path: the behaviour to match.</summary>
public sealed class SocketsTransportPathTests(SocketsTransportPathFixture fixture) : FunctionalSuite<SocketsTransportPathFixture>(fixture);
