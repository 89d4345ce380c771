using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Seqpacket;

/// <summary>SOCK_SEQPACKET end to end, against Python's socket module: a peer nobody here wrote.</summary>
public sealed class SeqpacketTests
{
    private const string Connect = """
        import socket, sys
        def connect(address):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(30)
            s.connect('\0' + address[1:] if address.startswith('@') else address)
            return s
        def read_response(s, limit=65536):
            # Reads one HTTP/1.1 response with Content-Length; asserts no packet exceeds `limit`.
            data = b''
            while True:
                chunk, _, flags, _ = s.recvmsg(limit)
                assert not (flags & socket.MSG_TRUNC), 'packet truncated: larger than %d' % limit
                if not chunk:
                    raise SystemExit('connection closed before the response was complete')
                data += chunk
                head, sep, body = data.partition(b'\r\n\r\n')
                if sep:
                    length = int([l.split(b':')[1] for l in head.split(b'\r\n') if l.lower().startswith(b'content-length')][0])
                    if len(body) >= length:
                        return head, body
        """;

    [ToolFact("python3")]
    public async Task Http_RequestInOddPackets_ReceivesWholeResponse()
    {
        await using var host = await SeqpacketHost.StartAsync();
        var output = await PythonPeer.RunAsync(Connect + """

            s = connect(sys.argv[1])
            body = bytes(i % 251 for i in range(65536))
            head = b'POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 65536\r\n\r\n'
            s.send(head[:1]); s.send(head[1:4]); s.send(head[4:]); s.send(body)   # 1 byte, 3 bytes, the rest, 64 KiB
            _, echoed = read_response(s)
            assert echoed == body, 'echo differs'
            s.send(b'GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n')
            _, text = read_response(s)
            print(text.decode())
            """, host.HttpPath);

        Assert.Equal("Hello, World!", output.Trim());
    }

    [ToolFact("python3")]
    public async Task Http_LargeResponse_ArrivesInPacketsOfAtMost64KiB()
    {
        await using var host = await SeqpacketHost.StartAsync();
        var output = await PythonPeer.RunAsync(Connect + """

            s = connect(sys.argv[1])
            s.send(b'GET /bytes/1000000 HTTP/1.1\r\nHost: localhost\r\n\r\n')
            _, body = read_response(s, 65536)
            print(len(body))
            """, host.HttpPath);

        Assert.Equal("1000000", output.Trim());
    }

    [ToolFact("python3")]
    public async Task Messages_SentBackToBack_ArriveAsSeparateMessages()
    {
        await using var host = await SeqpacketHost.StartAsync();
        var output = await PythonPeer.RunAsync(Connect + """

            s = connect(sys.argv[1])
            for m in (b'a', b'bb', b'ccc'):
                s.send(m)
            print(' '.join(s.recv(65536).decode() for _ in range(3)))
            """, host.MessagesAddress);

        // One reply per message, each naming the length it saw: boundaries were kept.
        Assert.Equal("1:a 2:b 3:c", output.Trim());
    }

    [ToolFact("python3")]
    public async Task Http_EmptyPacketsBetweenRequestParts_AreSkipped()
    {
        await using var host = await SeqpacketHost.StartAsync();
        var output = await PythonPeer.RunAsync(Connect + """

            s = connect(sys.argv[1])
            head = b'GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n'
            s.send(b''); s.send(head[:10]); s.send(b''); s.send(b''); s.send(head[10:])   # empty packets are legal
            status, text = read_response(s)
            s.send(b''); s.send(head)
            print(status.split(b'\r\n')[0].decode(), text.decode(), read_response(s)[1].decode())
            """, host.HttpPath);

        Assert.Equal("HTTP/1.1 200 OK Hello, World! Hello, World!", output.Trim());
    }

    [ToolFact("python3")]
    public async Task Messages_EmptyPacket_IsAnEmptyMessage_EndIsOnlyTheRealShutdown()
    {
        await using var host = await SeqpacketHost.StartAsync();
        var output = await PythonPeer.RunAsync(Connect + """

            s = connect(sys.argv[1])
            for m in (b'a', b'', b'b'):
                s.send(m)
            replies = [s.recv(65536).decode() for _ in range(3)]
            s.send(b'')
            s.shutdown(socket.SHUT_WR)   # an empty message, then the end: the server answers the one and closes
            replies.append(s.recv(65536).decode())
            replies.append('eof' if s.recv(65536) == b'' else 'more')
            print(' '.join(replies))
            """, host.MessagesAddress);

        Assert.Equal("1:a 0: 1:b 0: eof", output.Trim());
    }

    [ToolFact("python3")]
    public async Task Http_SmallSendBuffer_LargeResponseArrivesWhole()
    {
        // A small net.core.wmem_default in effect: 64 KiB packets no longer fit the send buffer (EMSGSIZE).
        await using var host = await SeqpacketHost.StartAsync(onHttpConnection: connection =>
        {
            var socket = ((Transport.UnixNative.Core.Connection.UnixConnection)connection).Socket;
            Assert.Equal(0, Interop.Socket.SetIntOption(socket.Fd, Interop.Socket.SOL_SOCKET, Interop.Socket.SO_SNDBUF, 4096));
        });
        var output = await PythonPeer.RunAsync(Connect + """

            s = connect(sys.argv[1])
            s.send(b'GET /bytes/1000000 HTTP/1.1\r\nHost: localhost\r\n\r\n')
            _, body = read_response(s, 65536)
            s.send(b'GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n')
            print(len(body), read_response(s)[1].decode())
            """, host.HttpPath);

        Assert.Equal("1000000 Hello, World!", output.Trim());
    }

    [ToolFact("python3")]
    public async Task Messages_200KiB_ArriveWholeOrAreRefusedClearly()
    {
        await using var host = await SeqpacketHost.StartAsync();
        var output = await PythonPeer.RunAsync(Connect + """

            s = connect(sys.argv[1])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            s.send(b'\x01' * (200 * 1024))
            print(s.recv(1 << 20).decode())
            s.send(b'big:204800')
            reply, _, flags, _ = s.recvmsg(1 << 20)
            print(len(reply), bool(flags & socket.MSG_TRUNC))
            s.send(b'big:900000')
            print(s.recv(1 << 20).decode())
            """, host.MessagesAddress);

        var lines = output.Trim().Split('\n');
        Assert.Equal("204800:\u0001", lines[0]);                 // the client's 200 KiB message arrived as one
        Assert.Equal("204800 False", lines[1]);                  // the server's 200 KiB message arrived whole
        Assert.StartsWith("refused: A 900000-byte message does not fit in one packet", lines[2]);
        Assert.Contains("EMSGSIZE", lines[2]);
    }

    [ToolFact("python3")]
    public async Task Http_PacketLargerThanTheReceiveBuffer_AbortsAndLogsInsteadOfTruncating()
    {
        // The buffer is normally as large as any packet a peer can send; shrink it to reach the guard.
        await using var host = await SeqpacketHost.StartAsync(o => o.SeqpacketReceiveBufferSize = 64 * 1024);
        var output = await PythonPeer.RunAsync(Connect + """

            s = connect(sys.argv[1])
            s.send(b'GET /plaintext HTTP/1.1\r\nHost: localhost\r\nX-Pad: ' + b'x' * (100 * 1024) + b'\r\n\r\n')
            try:
                print('eof' if s.recv(65536) == b'' else 'data')
            except ConnectionResetError:
                print('reset')
            """, host.HttpPath);

        Assert.Contains(output.Trim(), new[] { "eof", "reset" });
        Assert.Contains(host.Logs.Entries, e => e.Id.Name == "PacketTruncated");
    }

    [ToolFact("python3")]
    public async Task Urls_UnixSeqpacketPathAndAbstract_ServeHttpAndShowTheirAddresses()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var path = $"/tmp/sq-url-{id}.sock";
        var name = $"@sq-url-{id}";
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUnixNativeTransport();
        builder.WebHost.UseUrls($"http://unix-seqpacket:{path};http://unix-seqpacket:{name}");
        await using var app = builder.Build();
        app.MapGet("/plaintext", () => Microsoft.AspNetCore.Http.Results.Text("Hello, World!"));
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        try
        {
            var addresses = app.Urls.ToArray();
            Assert.Contains($"http://unix-seqpacket:{path}", addresses);
            Assert.Contains($"http://unix-seqpacket:{name}", addresses);
            foreach (var address in new[] { path, name })
            {
                var output = await PythonPeer.RunAsync(Connect + """

                    s = connect(sys.argv[1])
                    s.send(b'GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n')
                    print(read_response(s)[1].decode())
                    """, address);
                Assert.Equal("Hello, World!", output.Trim());
            }
        }
        finally
        {
            await app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        Assert.False(File.Exists(path), "the seqpacket socket file is removed at shutdown");
    }
}
