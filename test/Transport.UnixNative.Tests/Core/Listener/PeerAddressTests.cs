using System.Net;
using Microsoft.AspNetCore.Hosting;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Listener;

/// <summary>
/// Peers whose own socket is bound to any address the kernel allows are accepted, served and shown
/// exactly; the listener keeps accepting others afterwards. (Kestrel's Sockets transport crashes the
/// process on the longer ones; before the fix ours stopped accepting or lost the bytes.)
/// </summary>
public class PeerAddressTests
{
    public static TheoryData<string, bool, string, string> Peers() => new()
    {
        // case, abstract?, name bytes (hex), expected RemoteEndPoint type
        { "abstract with 0xff 0x00 0xfe (not UTF-8, a NUL)", true, "FF00FE4142", nameof(UnixPeerEndPoint) },
        { "abstract of 107 bytes of 0xff", true, new string('F', 214), nameof(UnixPeerEndPoint) },
        { "abstract with a newline (log injection)", true, Convert.ToHexString("un\nFAKE LOG LINE"u8), nameof(UnixPeerEndPoint) },
        { "abstract of 40 printable bytes, longer than the listener's path", true, Convert.ToHexString(Encoding.ASCII.GetBytes(new string('p', 40))), nameof(UnixDomainSocketEndPoint) },
        { "abstract of 107 printable bytes", true, Convert.ToHexString(Encoding.ASCII.GetBytes(new string('q', 107))), nameof(UnixDomainSocketEndPoint) },
    };

    [ToolTheory("python3")]
    [MemberData(nameof(Peers))]
    public async Task BoundPeer_IsServed_ShownExactly_ListenerCarriesOn(string description, bool isAbstract, string nameHex, string expectedType)
    {
        _ = description;
        // Unique per run (another test's peer must not hold the same abstract name): the last 8 bytes, or appended.
        var unique = Encoding.ASCII.GetBytes(TestPaths.Hex8());
        var name = Convert.FromHexString(nameHex);
        name = name.Length >= 32 ? [.. name[..^unique.Length], .. unique] : [.. name, .. unique];
        await AssertPeerAsync(isAbstract, name, expectedType, seqpacket: false);
    }

    [ToolFact("python3")]
    public async Task BoundPeer_PathOf107Bytes_IsServed_AsRuntimeEndPoint()
    {
        var path = "/tmp/un-" + TestPaths.Hex8() + "-" + new string('c', 107 - 22) + ".sock";
        Assert.Equal(107, path.Length);
        await AssertPeerAsync(false, Encoding.ASCII.GetBytes(path), nameof(UnixDomainSocketEndPoint), seqpacket: false);
    }

    [ToolFact("python3")]
    public async Task BoundPeer_PathOf108BytesWithoutNul_IsServed_AsUnixPeerEndPoint()
    {
        // Linux lets a path fill sun_path with no terminating NUL; UnixDomainSocketEndPoint refuses it.
        var path = "/tmp/un-" + TestPaths.Hex8() + "-" + new string('d', 108 - 22) + ".sock";
        Assert.Equal(108, path.Length);
        await AssertPeerAsync(false, Encoding.ASCII.GetBytes(path), nameof(UnixPeerEndPoint), seqpacket: false);
    }

    [ToolFact("python3")]
    public async Task BoundPeer_PathWithNonUtf8Byte_IsServed_BytesKept()
    {
        var path = Encoding.ASCII.GetBytes("/tmp/un-" + TestPaths.Hex8() + "-?.sock");
        path[^6] = 0xff;
        await AssertPeerAsync(false, path, nameof(UnixPeerEndPoint), seqpacket: false);
    }

    [ToolFact("python3")]
    public async Task BoundPeer_Seqpacket_AbstractNotUtf8_IsServed_BytesKept()
    {
        byte[] name = [0xff, 0x00, .. Encoding.ASCII.GetBytes(TestPaths.Hex8())];
        await AssertPeerAsync(true, name, nameof(UnixPeerEndPoint), seqpacket: true);
    }

    [ToolFact("python3")]
    public async Task BoundPeer_NotUtf8_KestrelMetricsStillTagUnix()
    {
        using var paths = new TempPaths();
        var server = paths.SocketPath();
        var transports = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Microsoft.AspNetCore.Server.Kestrel" && instrument.Name == "kestrel.active_connections")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            string? address = null, transport = null;
            foreach (var tag in tags)
            {
                address = tag.Key == "server.address" ? tag.Value as string : address;
                transport = tag.Key == "network.transport" ? tag.Value as string : transport;
            }
            if (address == server)
            {
                transports.Enqueue(transport);
            }
        });
        listener.Start();
        await using var host = await SampleHost.StartAsync(new HostSpec { PlainHost = true, Listen = o => o.ListenUnixSocket(server) });

        var id = await BoundPeer.RequestAsync(server, isAbstract: true, [0xff, 0xfe, .. Encoding.ASCII.GetBytes(TestPaths.Hex8())]);

        Assert.IsType<UnixPeerEndPoint>(host.Connections.Get(id).RemoteEndPoint);
        // Kestrel tags from the local endpoint, which stays the runtime's UnixDomainSocketEndPoint.
        Assert.NotEmpty(transports);
        Assert.All(transports, t => Assert.Equal("unix", t));
    }

    private static async Task AssertPeerAsync(bool isAbstract, byte[] name, string expectedType, bool seqpacket)
    {
        using var paths = new TempPaths();
        var server = paths.SocketPath();
        if (!isAbstract)
        {
            paths.Add(Encoding.Latin1.GetString(name));
        }
        await using var host = await SampleHost.StartAsync(new HostSpec
        {
            PlainHost = true,
            Listen = seqpacket ? o => o.ListenUnixSeqpacket(server) : o => o.ListenUnixSocket(server),
        });

        var id = await BoundPeer.RequestAsync(server, isAbstract, name, seqpacket);

        var remote = host.Connections.Get(id).RemoteEndPoint;
        Assert.NotNull(remote);
        Assert.Equal(expectedType, remote.GetType().Name);
        Assert.Equal(AddressFamily.Unix, remote.AddressFamily);
        Assert.Equal(ExpectedSockAddr(isAbstract, name), SockAddrOf(remote));
        Assert.DoesNotContain(remote.ToString()!, c => char.IsControl(c));
        if (remote is UnixPeerEndPoint peer)
        {
            Assert.Equal(isAbstract, peer.IsAbstract);
            Assert.Equal(name, peer.Name.ToArray());
            Assert.Equal(peer, new UnixPeerEndPoint(name, isAbstract));
        }
        Assert.False(host.Logs.Contains("ConnectionSetupFailed"));

        // The listener carries on: an ordinary client is served next.
        var next = await BoundPeer.RequestAsync(server, isAbstract: false, name: [], seqpacket);
        Assert.NotEqual(id, next);
    }

    /// <summary>The sockaddr_un bytes after the family: what the kernel reported, without padding.</summary>
    private static byte[] ExpectedSockAddr(bool isAbstract, byte[] name)
        => isAbstract ? [0, .. name] : name;

    private static byte[] SockAddrOf(EndPoint endPoint)
    {
        if (endPoint is UnixSeqpacketEndPoint seqpacket)
        {
            var text = seqpacket.Address;
            return text.StartsWith('@') ? [0, .. Encoding.UTF8.GetBytes(text[1..])] : Encoding.UTF8.GetBytes(text);
        }
        var address = endPoint.Serialize();
        var bytes = address.Buffer.Span[2..address.Size].ToArray();
        // A path's serialized form ends with its NUL (when sun_path has room for it).
        return bytes.Length > 0 && bytes[0] != 0 && bytes[^1] == 0 ? bytes[..^1] : bytes;
    }
}
