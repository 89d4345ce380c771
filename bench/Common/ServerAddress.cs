using System.Net;
using System.Net.Sockets;

namespace Transport.UnixNative.Bench.Common;

internal enum AddressKind
{
    UnixStream,
    UnixSeqpacket,
    Tcp,
}

/// <summary>Where a server listens and how a client reaches it: a fresh unix socket path or a free loopback port.</summary>
internal sealed record ServerAddress(AddressKind Kind, string Path, int Port)
{
    /// <summary>A new address nobody uses yet: a short unique path under /tmp, or a free TCP port.</summary>
    public static ServerAddress Fresh(AddressKind kind) => kind switch
    {
        AddressKind.Tcp => new ServerAddress(kind, "", FreeTcpPort()),
        AddressKind.UnixSeqpacket => new ServerAddress(kind, $"/tmp/bench-{Guid.NewGuid():N}"[..19] + ".seq", 0),
        _ => new ServerAddress(kind, $"/tmp/bench-{Guid.NewGuid():N}"[..19] + ".sock", 0),
    };

    public bool IsUnix => Kind != AddressKind.Tcp;

    /// <summary>The value for the sample's <c>--urls</c> (stream addresses only).</summary>
    public string KestrelUrl => Kind switch
    {
        AddressKind.Tcp => $"http://127.0.0.1:{Port}",
        AddressKind.UnixStream => $"http://unix:{Path}",
        _ => throw new InvalidOperationException("a seqpacket address is passed with --seqpacket, not --urls"),
    };

    public EndPoint EndPoint => IsUnix ? new UnixDomainSocketEndPoint(Path) : new IPEndPoint(IPAddress.Loopback, Port);

    /// <summary>A new, unconnected client socket for this address.</summary>
    public Socket CreateClientSocket() => Kind switch
    {
        AddressKind.Tcp => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true },
        AddressKind.UnixSeqpacket => new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified),
        _ => new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified),
    };

    /// <summary>h2load's <c>-B</c> argument (connect to a unix socket whatever the URI says), or null for TCP.</summary>
    public string? H2LoadBind => Kind == AddressKind.UnixStream ? $"unix:{Path}" : null;

    /// <summary>The scheme and authority h2load puts in front of the request path.</summary>
    public string H2LoadBaseUri => Kind == AddressKind.Tcp ? $"http://127.0.0.1:{Port}" : "http://localhost";

    public override string ToString() => IsUnix ? Path : $"127.0.0.1:{Port}";

    /// <summary>Deletes a unix socket file the server may have left (after a kill it cannot unlink it).</summary>
    public void DeleteSocketFile()
    {
        if (IsUnix && File.Exists(Path))
        {
            File.Delete(Path);
        }
    }

    private static int FreeTcpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
