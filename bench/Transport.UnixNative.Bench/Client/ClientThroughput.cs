extern alias UnixNativeClient;

using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using UnixNativeClient::Transport.UnixNative.Client;

namespace Transport.UnixNative.Bench.Client;

/// <summary>End-to-end client throughput: our handler against a SocketsHttpHandler with the plain callback.</summary>
/// <param name="OursRequestsPerSecond">Requests per second through <see cref="UnixSocketHttpHandler"/>.</param>
/// <param name="PlainRequestsPerSecond">Requests per second through a SocketsHttpHandler whose ConnectCallback is a plain NetworkStream.</param>
/// <param name="OursRequests">Successful requests counted for ours.</param>
/// <param name="PlainRequests">Successful requests counted for the plain callback.</param>
/// <param name="Errors">Failed requests (both clients); anything but 0 makes the run suspect.</param>
/// <param name="Duration">Measured time per client (warm-up excluded).</param>
/// <param name="Concurrency">Requests in flight per client.</param>
public sealed record ClientThroughputResult(
    double OursRequestsPerSecond,
    double PlainRequestsPerSecond,
    long OursRequests,
    long PlainRequests,
    long Errors,
    TimeSpan Duration,
    int Concurrency)
{
    /// <summary>Ours divided by plain: 1.0 means no difference; runs differ by a few percent on their own.</summary>
    public double Ratio => PlainRequestsPerSecond == 0 ? 0 : OursRequestsPerSecond / PlainRequestsPerSecond;

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"client HTTP/1.1 GET {ClientThroughput.RequestPath}, {Concurrency} concurrent, {Duration.TotalSeconds:0.#} s each: " +
        $"ours {OursRequestsPerSecond:N0} req/s, plain callback {PlainRequestsPerSecond:N0} req/s, ratio {Ratio:0.000}, errors {Errors}");
}

/// <summary>
/// Drives HttpClient against a running server (the sample's GET /plaintext) with
/// <see cref="Concurrency"/> request loops, once through our handler and once through the plain callback.
/// The two alternate in halves (plain, ours, plain, ours) so drift in the machine's state hits both alike.
/// </summary>
public static class ClientThroughput
{
    /// <summary>Requests in flight per client.</summary>
    public const int Concurrency = 32;

    /// <summary>The route requested: the sample's 13-byte plaintext.</summary>
    public const string RequestPath = "/plaintext";

    /// <summary>Measures both clients for <paramref name="duration"/> each against the server on <paramref name="socketPath"/>.</summary>
    /// <param name="socketPath">The server's unix socket path (or <c>@name</c> for an abstract address).</param>
    /// <param name="duration">Measured time per client, split in two halves; a short warm-up comes on top.</param>
    public static async Task<ClientThroughputResult> RunAsync(string socketPath, TimeSpan duration)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var endPoint = new UnixDomainSocketEndPoint(socketPath[0] == '@' ? "\0" + socketPath[1..] : socketPath);
        using var ours = new HttpClient(UnixSocketHttpHandler.Create(socketPath)) { BaseAddress = new("http://localhost") };
        using var plain = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        { BaseAddress = new("http://localhost") };

        var warmUp = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(1).Ticks, duration.Ticks / 4));
        await LoadAsync(plain, warmUp).ConfigureAwait(false);
        await LoadAsync(ours, warmUp).ConfigureAwait(false);

        var half = duration / 2;
        var plainTotal = new Load(0, 0, TimeSpan.Zero);
        var oursTotal = new Load(0, 0, TimeSpan.Zero);
        for (var round = 0; round < 2; round++)
        {
            plainTotal += await LoadAsync(plain, half).ConfigureAwait(false);
            oursTotal += await LoadAsync(ours, half).ConfigureAwait(false);
        }
        return new ClientThroughputResult(
            oursTotal.Requests / oursTotal.Elapsed.TotalSeconds,
            plainTotal.Requests / plainTotal.Elapsed.TotalSeconds,
            oursTotal.Requests,
            plainTotal.Requests,
            oursTotal.Errors + plainTotal.Errors,
            duration,
            Concurrency);
    }

    private readonly record struct Load(long Requests, long Errors, TimeSpan Elapsed)
    {
        public static Load operator +(Load a, Load b) => new(a.Requests + b.Requests, a.Errors + b.Errors, a.Elapsed + b.Elapsed);
    }

    private static async Task<Load> LoadAsync(HttpClient client, TimeSpan duration)
    {
        long requests = 0;
        long errors = 0;
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        stop.CancelAfter(duration);
        var loops = Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync(RequestPath).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref requests);
                    }
                    else
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }).ToArray();
        await Task.WhenAll(loops).ConfigureAwait(false);
        return new Load(requests, errors, clock.Elapsed);
    }
}
