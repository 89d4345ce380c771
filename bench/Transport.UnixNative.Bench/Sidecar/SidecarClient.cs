extern alias UnixNativeClient;

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using UnixNativeClient::Transport.UnixNative.Client;

namespace Transport.UnixNative.Bench.Sidecar;

/// <summary>
/// The client process of --sidecar (a child of the bench, so its CPU is measured apart from the server's):
/// HttpClient callers in a loop, driven over stdin/stdout by the parent, which reads both processes' /proc.
/// <code>--sidecar-client VARIANT ADDRESS</code> ADDRESS is a unix socket path, or host:port for tcp.
/// stdin: <c>run SECONDS CALLERS</c> → stdout <c>done COUNT SECONDS P50_US P99_US ERRORS</c>; <c>quit</c>.
/// </summary>
internal static class SidecarClient
{
    private const int MaxMicroseconds = 1_000_000;

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        if (args.Count < 2)
        {
            Console.Error.WriteLine("usage: --sidecar-client ours|ours-stream|tcp|networkstream|sockets-unix ADDRESS [--seconds S --callers N]");
            return 2;
        }
        var (variant, address) = (args[0], args[1]);
        using var client = CreateClient(variant, address, out var url);
        // Warm the pool's first connection; the parent waits for "ready".
        (await client.GetAsync(url).ConfigureAwait(false)).Dispose();

        // Stand-alone load (bench/profile-sidecar.sh): --seconds S --callers N, then exit.
        var standalone = args.ToList().IndexOf("--seconds");
        if (standalone >= 0)
        {
            var seconds = double.Parse(args[standalone + 1], CultureInfo.InvariantCulture);
            var callersAt = args.ToList().IndexOf("--callers");
            var n = callersAt >= 0 ? int.Parse(args[callersAt + 1], CultureInfo.InvariantCulture) : 32;
            Console.WriteLine(await LoadAsync(client, url, TimeSpan.FromSeconds(seconds), n).ConfigureAwait(false));
            return 0;
        }

        Console.WriteLine("ready");
        while (Console.ReadLine() is { } line)
        {
            var parts = line.Split(' ');
            switch (parts[0])
            {
                case "run":
                    var duration = TimeSpan.FromSeconds(double.Parse(parts[1], CultureInfo.InvariantCulture));
                    var callers = int.Parse(parts[2], CultureInfo.InvariantCulture);
                    Console.WriteLine(await LoadAsync(client, url, duration, callers).ConfigureAwait(false));
                    break;
                case "quit":
                    return 0;
                default:
                    Console.Error.WriteLine($"sidecar client: unknown command '{line}'");
                    return 2;
            }
        }
        return 0;
    }

    private static HttpClient CreateClient(string variant, string address, out Uri url)
    {
        switch (variant)
        {
            case "ours" or "sockets-unix":
                url = new Uri("http://localhost/plaintext");
                return new HttpClient(UnixSocketHttpHandler.Create(address));
            case "ours-stream":
                url = new Uri("http://localhost/plaintext");
                return new HttpClient(UnixSocketHttpHandler.Create(address, o => o.UnsafePreferInlineCompletions = true));
            case "networkstream":
                url = new Uri("http://localhost/plaintext");
                var endPoint = new UnixDomainSocketEndPoint(address);
                // The callback most apps write by hand: a Socket and a NetworkStream that owns it.
                return new HttpClient(new SocketsHttpHandler
                {
                    UseProxy = false,
                    ConnectCallback = async (_, ct) =>
                    {
                        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                        try
                        {
                            await socket.ConnectAsync(endPoint, ct).ConfigureAwait(false);
                            return new NetworkStream(socket, ownsSocket: true);
                        }
                        catch
                        {
                            socket.Dispose();
                            throw;
                        }
                    },
                });
            case "tcp":
                url = new Uri($"http://{address}/plaintext");
                return new HttpClient(new SocketsHttpHandler { UseProxy = false });
            default:
                throw new ArgumentException($"unknown sidecar variant '{variant}'");
        }
    }

    /// <summary>
    /// <paramref name="callers"/> loops of GET, each awaiting its response (body read) before the next, for
    /// <paramref name="duration"/>. Latency per request in whole microseconds into a shared histogram.
    /// </summary>
    private static async Task<string> LoadAsync(HttpClient client, Uri url, TimeSpan duration, int callers)
    {
        var histogram = new int[MaxMicroseconds + 1];
        long count = 0, errors = 0;
        var clock = Stopwatch.StartNew();
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        async Task Caller()
        {
            long mine = 0, failed = 0;
            while (true)
            {
                var start = Stopwatch.GetTimestamp();
                if (start >= end)
                {
                    break;
                }
                try
                {
                    using var response = await client.GetAsync(url).ConfigureAwait(false);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        failed++;
                        continue;
                    }
                }
                catch (HttpRequestException)
                {
                    failed++;
                    continue;
                }
                var micros = (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                Interlocked.Increment(ref histogram[Math.Min(micros, MaxMicroseconds)]);
                mine++;
            }
            Interlocked.Add(ref count, mine);
            Interlocked.Add(ref errors, failed);
        }
        await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(Caller))).ConfigureAwait(false);
        var seconds = clock.Elapsed.TotalSeconds;
        return string.Create(CultureInfo.InvariantCulture,
            $"done {count} {seconds:0.000000} {Percentile(histogram, count, 0.50)} {Percentile(histogram, count, 0.99)} {errors}");
    }

    private static int Percentile(int[] histogram, long count, double p)
    {
        var rank = (long)Math.Ceiling(count * p);
        long seen = 0;
        for (var i = 0; i < histogram.Length; i++)
        {
            seen += histogram[i];
            if (seen >= rank && seen > 0)
            {
                return i;
            }
        }
        return 0;
    }
}
