using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Hosting;

namespace Transport.UnixNative.Core.Listener;

/// <summary>A validated unix socket address: a filesystem path or an abstract name, and the socket type.</summary>
internal sealed record UnixSocketAddress(string Name, bool IsAbstract, bool IsSeqpacket)
{
    /// <summary>
    /// Kestrel only treats <c>http://unix:/…</c> as a unix socket. <see cref="UnixUrlRewriter"/> turns
    /// <c>http://unix:@name</c> into <c>http://unix:/\0name</c>: a path that can never name a file
    /// (it ends at the NUL), so it is unambiguous here.
    /// </summary>
    public const string AbstractUrlMarker = "/\0";

    /// <summary>Likewise <c>http://unix-seqpacket:/path</c> or <c>:@name</c> becomes <c>http://unix:/\0seqpacket\0/path</c>.</summary>
    public const string SeqpacketUrlMarker = "/\0seqpacket\0";

    /// <summary>How people write it: <c>/path</c> or <c>@name</c>.</summary>
    public string DisplayName => IsAbstract ? "@" + Name : Name;

    /// <summary>Seqpacket only: connections offer <see cref="IUnixMessageFeature"/> instead of a byte stream.</summary>
    public bool PreserveMessages { get; init; }

    public int SocketType => IsSeqpacket ? Interop.Socket.SOCK_SEQPACKET : Interop.Socket.SOCK_STREAM;

    /// <summary>Parses <c>/absolute/path</c>, <c>@abstract</c> or <c>\0abstract</c>; throws a clear error otherwise.</summary>
    public static UnixSocketAddress Parse(string address, bool isSeqpacket)
    {
        ArgumentNullException.ThrowIfNull(address);
        UnixSocketAddress result;
        if (address.StartsWith(RefusedUrls.InvalidUrlMarker, StringComparison.Ordinal))
        {
            // A configured URL refused earlier: Kestrel bound it to us so that it fails here, naming why.
            throw new ArgumentException(RefusedUrls.ErrorOf(address));
        }
        if (address.StartsWith(SeqpacketUrlMarker, StringComparison.Ordinal))
        {
            return Parse(address[SeqpacketUrlMarker.Length..], isSeqpacket: true);
        }
        if (address.StartsWith(AbstractUrlMarker, StringComparison.Ordinal))
        {
            result = new(address[AbstractUrlMarker.Length..], true, isSeqpacket);
        }
        else if (address.Length > 0 && (address[0] == '@' || address[0] == '\0'))
        {
            result = new(address[1..], true, isSeqpacket);
        }
        else if (address.StartsWith('/'))
        {
            result = new(address, false, isSeqpacket);
        }
        else
        {
            throw RelativePath(address);
        }
        result.Validate();
        return result;
    }

    private static UnixSocketAddress FromParts(string name, bool isAbstract, bool isSeqpacket)
    {
        var result = new UnixSocketAddress(name, isAbstract, isSeqpacket);
        result.Validate();
        return result;
    }

    private static ArgumentException RelativePath(string path) => new(
        $"Unix socket path '{path}' is relative; use an absolute path (e.g. '/run/app/app.sock'). " +
        "For an abstract address write '@name' in a URL or ListenUnixAbstract(\"name\"), or use new UnixDomainSocketEndPoint(\"\\0name\").");

    public static bool TryFromEndPoint(EndPoint endPoint, out UnixSocketAddress? address)
    {
        switch (endPoint)
        {
            case UnixDomainSocketEndPoint unix:
                var text = unix.ToString();
                // An abstract endpoint prints as "@name"; a file named "@name" prints the same, so ask the bytes.
                address = IsRuntimeAbstract(unix) ? FromParts(text[1..], isAbstract: true, isSeqpacket: false)
                    : text.StartsWith('@') ? throw RelativePath(text) : Parse(text, isSeqpacket: false);
                return true;
            case UnixSeqpacketEndPoint seqpacket:
                address = Parse(seqpacket.Address, isSeqpacket: true) with { PreserveMessages = seqpacket.PreserveMessageBoundaries };
                return true;
            default:
                address = null;
                return false;
        }
    }

    // The runtime prints an abstract UnixDomainSocketEndPoint as "@name"; a path is printed as given.
    private static bool IsRuntimeAbstract(UnixDomainSocketEndPoint endPoint)
    {
        var socketAddress = endPoint.Serialize();
        return socketAddress.Size > SockAddrUn.PathOffset && socketAddress[SockAddrUn.PathOffset] == 0;
    }

    public EndPoint ToEndPoint() => IsSeqpacket
        ? new UnixSeqpacketEndPoint(DisplayName) { PreserveMessageBoundaries = PreserveMessages }
        : new UnixDomainSocketEndPoint(IsAbstract ? "\0" + Name : Name);

    private void Validate()
    {
        if (SockAddrUn.Problem(Name, IsAbstract, out var errno) is { } reason)
        {
            throw new ArgumentException(SockAddrUn.InvalidAddress(DisplayName, reason, errno));
        }
    }

    public override string ToString() => DisplayName;
}
