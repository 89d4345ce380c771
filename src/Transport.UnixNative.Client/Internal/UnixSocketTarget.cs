using System.Net.Sockets;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// A validated unix socket address the client connects to: a path or an abstract name, and the
/// socket type. Immutable; holds the runtime endpoint so connects do not rebuild it.
/// </summary>
internal sealed class UnixSocketTarget : IEquatable<UnixSocketTarget>
{
    private UnixSocketTarget(string name, bool isAbstract, bool isSeqpacket)
    {
        Name = name;
        IsAbstract = isAbstract;
        IsSeqpacket = isSeqpacket;
        // The runtime encodes "\0name" with the exact address length (no NUL padding).
        EndPoint = new UnixDomainSocketEndPoint(isAbstract ? "\0" + name : name);
    }

    /// <summary>The path, or the abstract name without its leading <c>@</c>.</summary>
    public string Name { get; }

    public bool IsAbstract { get; }

    public bool IsSeqpacket { get; }

    public UnixDomainSocketEndPoint EndPoint { get; }

    public SocketType SocketType => IsSeqpacket ? SocketType.Seqpacket : SocketType.Stream;

    /// <summary>How people write it: <c>/path</c> or <c>@name</c>.</summary>
    public string Display => IsAbstract ? "@" + Name : Name;

    /// <summary>Parses <c>/absolute/path</c>, <c>@abstract</c> or <c>\0abstract</c>.</summary>
    /// <exception cref="UnixSocketAddressException">The address cannot name a unix socket; the message says why.</exception>
    public static UnixSocketTarget Parse(string address, bool isSeqpacket)
    {
        ArgumentNullException.ThrowIfNull(address);
        var isAbstract = address.Length > 0 && address[0] is '@' or '\0';
        if (!isAbstract && !address.StartsWith('/'))
        {
            throw new UnixSocketAddressException(address, address.Length == 0
                ? "the address is empty; use an absolute path ('/run/app/app.sock') or '@name' for an abstract address."
                : "the path is relative; use an absolute path ('/run/app/app.sock') or '@name' for an abstract address.", errno: 0);
        }
        var name = isAbstract ? address[1..] : address;
        if (SockAddrUn.Problem(name, isAbstract, out var errno) is { } reason)
        {
            throw new UnixSocketAddressException(address, reason, errno);
        }
        if (isAbstract)
        {
            ClientPlatform.RequireLinux($"Abstract unix socket addresses ('{address}')", "Use a socket path.");
        }
        RequireSeqpacket(address, isSeqpacket);
        return new UnixSocketTarget(name, isAbstract, isSeqpacket);
    }

    private static void RequireSeqpacket(string address, bool isSeqpacket)
    {
        if (isSeqpacket)
        {
            ClientPlatform.RequireLinux($"SOCK_SEQPACKET unix sockets ('{address}')", "Use a stream socket (SocketType.Stream, http+unix://).");
        }
    }

    public bool Equals(UnixSocketTarget? other)
        => other is not null && other.IsAbstract == IsAbstract && other.IsSeqpacket == IsSeqpacket && other.Name == Name;

    public override bool Equals(object? obj) => Equals(obj as UnixSocketTarget);

    public override int GetHashCode() => HashCode.Combine(Name, IsAbstract, IsSeqpacket);

    public override string ToString() => IsSeqpacket ? Display + " (SOCK_SEQPACKET)" : Display;
}

/// <summary>An address that cannot name a unix socket. Carries the errno when one applies (ENAMETOOLONG), else 0.</summary>
internal sealed class UnixSocketAddressException(string address, string reason, int errno)
    : ArgumentException(SockAddrUn.InvalidAddress(address, reason, errno))
{
    public string Address { get; } = address;

    public int? Errno { get; } = errno != 0 ? errno : null;
}
