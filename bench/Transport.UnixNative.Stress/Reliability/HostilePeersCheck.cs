using System.Buffers.Text;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Bench.Native;

namespace Transport.UnixNative.Stress.Reliability;

/// <summary>
/// Peers that misbehave: they reset in the middle of a response or an upload, send random bytes,
/// split requests into random packets (empty ones too) on seqpacket, send truncated or oversized
/// heads. Each case counts the peers that saw the right outcome; then the server must still serve
/// and hold no descriptor for any of them.
/// </summary>
internal sealed class HostilePeersCheck : IReliabilityCheck
{
    private const int Parallelism = 64;
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(15);

    // Garbage that happens to be a valid request prefix waits for the rest; cut it short so the run stays short.
    private static readonly string[] ServerArgs = ["--Kestrel:Limits:RequestHeadersTimeout=00:00:05"];

    public string Name => "hostile";

    public async Task RunAsync(CheckContext context, int index)
    {
        var peers = context.Options.Peers;
        var results = new Dictionary<Target, Dictionary<string, Outcome>>();
        var after = new Dictionary<Target, (double? Released, int FdsLeft, bool Serves, string Errors)>();
        foreach (var target in context.Order(index))
        {
            context.Progress($"hostile: {target.Label}, {peers} peers per case");
            var address = Addresses.Stream();
            var seqpacket = target.IsOurs ? Addresses.Seqpacket() : null;
            await using var server = await ServerChecks.StartAsync(context.SampleDll, target, address, context.CancellationToken, seqpacket, ServerArgs).ConfigureAwait(false);
            var baseSockets = server.SocketCount();
            var ct = context.CancellationToken;
            var outcomes = new Dictionary<string, Outcome>
            {
                ["reset-response"] = await RunPeersAsync(peers, i => ResetMidResponseAsync(address, ct), ct).ConfigureAwait(false),
                ["reset-upload"] = await RunPeersAsync(peers, i => ResetMidUploadAsync(address, ct), ct).ConfigureAwait(false),
                ["random"] = await RunPeersAsync(peers, i => RandomBytesAsync(address, i, ct), ct).ConfigureAwait(false),
                ["big-headers"] = await RunPeersAsync(peers, i => HeadAsync(address, OversizedHeaders, 431, shutdownAfter: false, ct), ct).ConfigureAwait(false),
                ["long-line"] = await RunPeersAsync(peers, i => HeadAsync(address, OversizedRequestLine, 414, shutdownAfter: false, ct), ct).ConfigureAwait(false),
                ["malformed"] = await RunPeersAsync(peers, i => HeadAsync(address, MalformedHeader, 400, shutdownAfter: false, ct), ct).ConfigureAwait(false),
                ["truncated"] = await RunPeersAsync(peers, i => HeadAsync(address, TruncatedHead, expected: null, shutdownAfter: true, ct), ct, parallelism: 256).ConfigureAwait(false),
            };
            if (seqpacket is not null)
            {
                outcomes["seqpacket"] = await RunPeersAsync(peers, i => RandomPacketsAsync(seqpacket, i, ct), ct, parallelism: 16).ConfigureAwait(false);
            }
            // Sockets, not all descriptors: the runtime opens a few files of its own as it grows; a leaked connection is a socket.
            var released = await server.WaitForSocketsAtMostAsync(baseSockets, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
            var fdsLeft = Math.Max(0, server.SocketCount() - baseSockets);
            var serves = await ServerChecks.ServesAsync(address, TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
            results[target] = outcomes;
            after[target] = (released, fdsLeft, serves, server.ErrorSummary());
            context.Progress($"hostile: {target.Label}: {string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value.Ok}/{o.Value.Total}"))}; serves after: {serves}");
        }

        var targets = context.Targets;
        var report = context.Report;
        string Cell(Target t, string key) => results[t].TryGetValue(key, out var o) ? Show.OutOf(o.Ok, o.Total) + (o.Ok < o.Total && o.FirstFailure is { } f ? $" (e.g. {ServerChecks.Shorten(f, 60)})" : "") : "n/a (stream only)";
        const string check = "hostile peers";
        report.Add(check, $"reset mid-response (GET /bytes/1048576, close after the head): head received", t => Cell(t, "reset-response"), targets);
        report.Add(check, $"reset mid-upload (POST /echo of 1 MiB, close after 64 KiB): echo started", t => Cell(t, "reset-upload"), targets);
        report.Add(check, "random bytes (1–2048, seeded): answered 4xx or closed", t => Cell(t, "random"), targets,
            "The same seeded bytes go to both transports. Right outcome: a 4xx response (400, or 408 for a valid-looking prefix after RequestHeadersTimeout, 5 s here) or a close; wrong: no close within 15 s or a non-4xx status.");
        report.Add(check, "seqpacket, random packet splits, sizes 0–16 KiB, empty packets included: POST /echo answered 200", t => Cell(t, "seqpacket"), targets);
        report.Add(check, "oversized headers (40 KiB): 431", t => Cell(t, "big-headers"), targets);
        report.Add(check, "oversized request line (10 KiB): 414", t => Cell(t, "long-line"), targets);
        report.Add(check, "malformed header line (no colon): 400", t => Cell(t, "malformed"), targets);
        report.Add(check, "truncated head, then FIN: closed at once (400 or no response)", t => Cell(t, "truncated"), targets,
            "Kestrel answers a head cut short by the peer's FIN by closing (Sockets: without a response); a 408 means the FIN went unnoticed until RequestHeadersTimeout (5 s here).");
        report.Add(check, "connection sockets left in the server afterwards", t => after[t].Released is { } s ? $"none (all closed in {Show.Seconds(s)})" : $"**{after[t].FdsLeft}** after 10 s", targets);
        report.Add(check, "still serves afterwards", t => Show.YesNo(after[t].Serves), targets,
            ServerChecks.PerTarget(targets, t => after[t].Errors) + " (the resets make the handlers' writes fail: logged by Kestrel as unhandled exceptions)");
    }

    private sealed record Outcome(int Ok, int Total, string? FirstFailure);

    /// <summary>Runs <paramref name="peers"/> peers, <paramref name="parallelism"/> at a time; a peer returns null when its outcome was right, else what went wrong.</summary>
    private static async Task<Outcome> RunPeersAsync(int peers, Func<int, Task<string?>> peer, CancellationToken cancellationToken, int parallelism = Parallelism)
    {
        var ok = 0;
        string? firstFailure = null;
        var options = new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, peers), options, async (i, _) =>
        {
            string? failure;
            try
            {
                failure = await peer(i).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                failure = ex is OperationCanceledException ? "no outcome within 15 s" : ex.Message;
            }
            if (failure is null)
            {
                Interlocked.Increment(ref ok);
            }
            else
            {
                Interlocked.CompareExchange(ref firstFailure, failure, null);
            }
        }).ConfigureAwait(false);
        return new Outcome(ok, peers, firstFailure);
    }

    private static CancellationTokenSource Deadline(CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(PeerTimeout);
        return deadline;
    }

    private static async Task<string?> ResetMidResponseAsync(ServerAddress address, CancellationToken cancellationToken)
    {
        using var deadline = Deadline(cancellationToken);
        using var socket = address.CreateClientSocket();
        await socket.ConnectAsync(address.EndPoint, deadline.Token).ConfigureAwait(false);
        await socket.SendAsync("GET /bytes/1048576 HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray(), SocketFlags.None, deadline.Token).ConfigureAwait(false);
        var status = await ReadStatusAsync(socket, deadline.Token).ConfigureAwait(false);
        // Closing with the rest of the megabyte unread resets the connection under the server's send.
        return status == 200 ? null : $"status {status}";
    }

    private static async Task<string?> ResetMidUploadAsync(ServerAddress address, CancellationToken cancellationToken)
    {
        using var deadline = Deadline(cancellationToken);
        using var socket = address.CreateClientSocket();
        await socket.ConnectAsync(address.EndPoint, deadline.Token).ConfigureAwait(false);
        var head = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048576\r\n\r\n"u8.ToArray();
        await socket.SendAsync(head, SocketFlags.None, deadline.Token).ConfigureAwait(false);
        await socket.SendAsync(new byte[64 * 1024], SocketFlags.None, deadline.Token).ConfigureAwait(false);
        var status = await ReadStatusAsync(socket, deadline.Token).ConfigureAwait(false);
        return status == 200 ? null : $"status {status}";
    }

    private static async Task<string?> RandomBytesAsync(ServerAddress address, int peer, CancellationToken cancellationToken)
    {
        var random = new Random(9_000 + peer);
        var garbage = new byte[random.Next(1, 2049)];
        random.NextBytes(garbage);
        using var deadline = Deadline(cancellationToken);
        using var socket = address.CreateClientSocket();
        await socket.ConnectAsync(address.EndPoint, deadline.Token).ConfigureAwait(false);
        try
        {
            await socket.SendAsync(garbage, SocketFlags.None, deadline.Token).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // The server may reject the first bytes and close before the rest is sent: read what it said.
        }
        var (status, _) = await ReadToEndAsync(socket, deadline.Token).ConfigureAwait(false);
        return status is null or (>= 400 and < 500) ? null : $"status {status}";
    }

    private static readonly byte[] OversizedHeaders = Encoding.ASCII.GetBytes(
        "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n"
        + string.Concat(Enumerable.Range(0, 40).Select(i => $"X-Filler-{i:D2}: {new string('a', 1000)}\r\n"))
        + "\r\n");

    private static readonly byte[] OversizedRequestLine = Encoding.ASCII.GetBytes($"GET /{new string('a', 10 * 1024)} HTTP/1.1\r\nHost: localhost\r\n\r\n");

    private static readonly byte[] MalformedHeader = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n"u8.ToArray();

    private static readonly byte[] TruncatedHead = "GET /plaintext HTTP/1.1\r\nHost: localh"u8.ToArray();

    /// <summary>Sends a bad head; right when the response has status <paramref name="expected"/> (null: 400 or no response at all) and the server closes.</summary>
    private static async Task<string?> HeadAsync(ServerAddress address, byte[] request, int? expected, bool shutdownAfter, CancellationToken cancellationToken)
    {
        using var deadline = Deadline(cancellationToken);
        using var socket = address.CreateClientSocket();
        await socket.ConnectAsync(address.EndPoint, deadline.Token).ConfigureAwait(false);
        try
        {
            await socket.SendAsync(request, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            if (shutdownAfter)
            {
                socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (SocketException)
        {
            // Rejected before all of it was sent: the response is already in our receive buffer.
        }
        var (status, _) = await ReadToEndAsync(socket, deadline.Token).ConfigureAwait(false);
        if (expected is null)
        {
            return status is null or 400 ? null : $"status {status}";
        }
        return status == expected ? null : status is null ? "closed without a response" : $"status {status}";
    }

    private static async Task<string?> RandomPacketsAsync(ServerAddress address, int peer, CancellationToken cancellationToken)
    {
        var random = new Random(19_000 + peer);
        var body = new byte[random.Next(4) == 0 ? 0 : random.Next(1, 64 * 1024)];
        random.NextBytes(body);
        var request = Encoding.ASCII.GetBytes($"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {body.Length}\r\n\r\n").Concat(body).ToArray();
        using var deadline = Deadline(cancellationToken);
        using var socket = address.CreateClientSocket();
        // Blocking sends on a packet socket: each call is exactly one packet, empty ones included.
        socket.Connect(address.EndPoint);
        var sent = 0;
        while (sent < request.Length)
        {
            var size = random.Next(5) == 0 ? 0 : Math.Min(random.Next(1, 16 * 1024 + 1), request.Length - sent);
            BenchNative.SendPacket(socket.Handle, request.AsSpan(sent, size));
            sent += size;
        }
        var (status, length) = await ReadHeadAsync(socket, deadline.Token).ConfigureAwait(false);
        return status == 200 && length == body.Length ? null : $"status {status}, Content-Length {length} for {body.Length}";
    }

    private static async Task<(int Status, long Length)> ReadHeadAsync(Socket socket, CancellationToken cancellationToken)
    {
        // Packets of the response are at most 64 KiB: receive into room for a whole one.
        var buffer = new byte[128 * 1024];
        var filled = 0;
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(filled, 64 * 1024), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException("closed before the response head");
            }
            filled += n;
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return HttpResponseReader.ParseHead(buffer.AsSpan(0, end));
            }
            if (filled > 64 * 1024)
            {
                throw new InvalidDataException("a response head over 64 KiB");
            }
        }
    }

    /// <summary>The status of the response head (reading no further).</summary>
    private static async Task<int> ReadStatusAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[16];
        var filled = 0;
        while (filled < 12)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException("closed before the status line");
            }
            filled += n;
        }
        return ParseStatus(buffer.AsSpan(0, filled)) ?? throw new InvalidDataException("not an HTTP/1.1 status line");
    }

    /// <summary>Reads until the server closes (or resets): the status of the first response, if any, and the bytes read.</summary>
    private static async Task<(int? Status, long Bytes)> ReadToEndAsync(Socket socket, CancellationToken cancellationToken)
    {
        var first = new byte[16];
        var scratch = new byte[16 * 1024];
        var filled = 0;
        long total = 0;
        try
        {
            while (true)
            {
                var n = filled < first.Length
                    ? await socket.ReceiveAsync(first.AsMemory(filled), SocketFlags.None, cancellationToken).ConfigureAwait(false)
                    : await socket.ReceiveAsync(scratch, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                if (filled < first.Length)
                {
                    filled += n;
                }
                total += n;
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // A reset after the response (the server closed with our bytes unread) ends it just as well.
        }
        return (ParseStatus(first.AsSpan(0, filled)), total);
    }

    private static int? ParseStatus(ReadOnlySpan<byte> start)
        => start.Length >= 12 && start.StartsWith("HTTP/1.1 "u8) && Utf8Parser.TryParse(start.Slice(9, 3), out int status, out _) ? status : null;
}
