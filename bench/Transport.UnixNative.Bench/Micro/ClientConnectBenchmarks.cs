extern alias UnixNativeClient;

using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using UnixNativeClient::Transport.UnixNative.Client;
using UnixNativeClient::Transport.UnixNative.Client.Internal;

namespace Transport.UnixNative.Bench.Micro;

/// <summary>
/// The client's connect path and stream against the plain ConnectCallback people write by hand
/// (<c>new Socket</c>, <c>ConnectAsync</c>, <c>new NetworkStream(socket, ownsSocket: true)</c>).
/// A connect operation is connect + the listener's accept + close, all on the benchmark thread, so
/// both sides of each connection are counted and nothing runs in the background. A round trip
/// writes 64 bytes through the client stream, the peer echoes them, and the stream reads them back.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ClientConnectBenchmarks
{
    private readonly byte[] _message = new byte[64];
    private readonly byte[] _reply = new byte[64];
    private readonly byte[] _peerBuffer = new byte[64];

    private string _streamPath = null!;
    private string _seqpacketPath = null!;
    private Socket _streamListener = null!;
    private Socket _seqpacketListener = null!;
    private UnixDomainSocketEndPoint _endPoint = null!;
    private UnixSocketTarget _target = null!;
    private UnixSocketConnector _connector = null!;
    private UnixSocketConnector _checkingConnector = null!;

    private Stream _plainStream = null!;
    private Socket _plainPeer = null!;
    private Stream _ourStream = null!;
    private Socket _ourPeer = null!;
    private Stream _seqpacketStream = null!;
    private Socket _seqpacketPeer = null!;

    [GlobalSetup]
    public void Setup()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        _streamPath = $"/tmp/bench-client-{id}.sock";
        _seqpacketPath = $"/tmp/bench-client-{id}.seq";
        _streamListener = Listen(_streamPath, SocketType.Stream);
        _seqpacketListener = Listen(_seqpacketPath, SocketType.Seqpacket);
        _endPoint = new UnixDomainSocketEndPoint(_streamPath);
        _target = UnixSocketTarget.Parse(_streamPath, isSeqpacket: false);
        _connector = new UnixSocketConnector(new UnixSocketClientOptions(), fallback: null);
        // The same, plus the SO_PEERCRED check: one getsockopt per connection.
        _checkingConnector = new UnixSocketConnector(new UnixSocketClientOptions { ExpectedServerUid = GetEffectiveUserId() }, fallback: null);

        _plainStream = PlainConnectAsync().AsTask().GetAwaiter().GetResult();
        _plainPeer = _streamListener.Accept();
        _ourStream = _connector.ConnectAsync(_target, default).AsTask().GetAwaiter().GetResult();
        _ourPeer = _streamListener.Accept();
        _seqpacketStream = _connector.ConnectAsync(UnixSocketTarget.Parse(_seqpacketPath, isSeqpacket: true), default).AsTask().GetAwaiter().GetResult();
        _seqpacketPeer = _seqpacketListener.Accept();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var disposable in new IDisposable[] { _plainStream, _plainPeer, _ourStream, _ourPeer, _seqpacketStream, _seqpacketPeer, _streamListener, _seqpacketListener })
        {
            disposable.Dispose();
        }
        File.Delete(_streamPath);
        File.Delete(_seqpacketPath);
    }

    /// <summary>The hand-written callback: what every snippet online does (when it does not leak).</summary>
    private async ValueTask<Stream> PlainConnectAsync()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(_endPoint).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    [Benchmark(Baseline = true, Description = "plain NetworkStream callback")]
    [BenchmarkCategory("Connect")]
    public async Task Connect_Plain()
    {
        var stream = await PlainConnectAsync().ConfigureAwait(false);
        _streamListener.Accept().Dispose();
        await stream.DisposeAsync().ConfigureAwait(false);
    }

    [Benchmark(Description = "UnixSocketConnectCallback")]
    [BenchmarkCategory("Connect")]
    public async Task Connect_Ours()
    {
        var stream = await _connector.ConnectAsync(_target, default).ConfigureAwait(false);
        _streamListener.Accept().Dispose();
        await stream.DisposeAsync().ConfigureAwait(false);
    }

    [Benchmark(Description = "UnixSocketConnectCallback + ExpectedServerUid")]
    [BenchmarkCategory("Connect")]
    public async Task Connect_OursWithPeerCheck()
    {
        var stream = await _checkingConnector.ConnectAsync(_target, default).ConfigureAwait(false);
        _streamListener.Accept().Dispose();
        await stream.DisposeAsync().ConfigureAwait(false);
    }

    [Benchmark(Baseline = true, Description = "plain NetworkStream")]
    [BenchmarkCategory("RoundTrip")]
    public Task RoundTrip_Plain() => RoundTripAsync(_plainStream, _plainPeer);

    [Benchmark(Description = "our stream (SOCK_STREAM)")]
    [BenchmarkCategory("RoundTrip")]
    public Task RoundTrip_Ours() => RoundTripAsync(_ourStream, _ourPeer);

    [Benchmark(Description = "SeqpacketStream (SOCK_SEQPACKET)")]
    [BenchmarkCategory("RoundTrip")]
    public Task RoundTrip_Seqpacket() => RoundTripAsync(_seqpacketStream, _seqpacketPeer);

    private async Task RoundTripAsync(Stream stream, Socket peer)
    {
        await stream.WriteAsync(_message).ConfigureAwait(false);
        var received = 0;
        while (received < _peerBuffer.Length)
        {
            received += peer.Receive(_peerBuffer.AsSpan(received));
        }
        peer.Send(_peerBuffer);
        await stream.ReadExactlyAsync(_reply).ConfigureAwait(false);
    }

    private static Socket Listen(string path, SocketType type)
    {
        var listener = new Socket(AddressFamily.Unix, type, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(512);
        return listener;
    }

    private static uint GetEffectiveUserId()
    {
        // Read /proc rather than P/Invoke: the benchmark needs nothing native of its own.
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                return uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException("No Uid line in /proc/self/status.");
    }
}
