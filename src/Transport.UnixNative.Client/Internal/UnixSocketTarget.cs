using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// A validated unix socket address the client connects to: a path or an abstract name, and the
/// socket type. Immutable; holds the runtime endpoint so connects do not rebuild it.
/// </summary>
internal sealed class UnixSocketTarget : IEquatable<UnixSocketTarget>
{
    /// <summary>sun_path is 108 bytes: a path needs its terminating NUL, an abstract name its leading NUL.</summary>
    internal const int MaxAddressBytes = 107;

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
        if (address.Length > 0 && address[0] is '@' or '\0')
        {
            var name = address[1..];
            var bytes = Encoding.UTF8.GetByteCount(name);
            if (bytes == 0)
            {
                throw new UnixSocketAddressException(address, "an abstract address needs a name after '@'.", errno: null);
            }
            if (bytes > MaxAddressBytes)
            {
                throw new UnixSocketAddressException(address,
                    $"the abstract name is {bytes} bytes; sun_path holds at most {MaxAddressBytes} after the leading NUL.", Libc.ENAMETOOLONG);
            }
            ClientPlatform.RequireLinux($"Abstract unix socket addresses ('{address}')", "Use a socket path.");
            RequireSeqpacket(address, isSeqpacket);
            return new UnixSocketTarget(name, isAbstract: true, isSeqpacket);
        }
        if (!address.StartsWith('/'))
        {
            throw new UnixSocketAddressException(address, address.Length == 0
                ? "the address is empty; use an absolute path ('/run/app/app.sock') or '@name' for an abstract address."
                : "the path is relative; use an absolute path ('/run/app/app.sock') or '@name' for an abstract address.", errno: null);
        }
        if (address.Contains('\0'))
        {
            throw new UnixSocketAddressException(address.Replace("\0", "\\0", StringComparison.Ordinal), "the path contains a NUL character.", errno: null);
        }
        var pathBytes = Encoding.UTF8.GetByteCount(address);
        if (pathBytes > MaxAddressBytes)
        {
            throw new UnixSocketAddressException(address,
                $"the path is {pathBytes} bytes; sun_path holds at most {MaxAddressBytes} plus the terminating NUL. " +
                "Paths are never truncated: use a shorter path or an abstract '@name'.", Libc.ENAMETOOLONG);
        }
        RequireSeqpacket(address, isSeqpacket);
        return new UnixSocketTarget(address, isAbstract: false, isSeqpacket);
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

/// <summary>An address that cannot name a unix socket. Carries the errno when one applies (ENAMETOOLONG).</summary>
internal sealed class UnixSocketAddressException(string address, string reason, int? errno)
    : ArgumentException(string.Create(CultureInfo.InvariantCulture,
        $"Invalid unix socket address '{address}': {(errno is int e ? Libc.ErrnoName(e) + ": " : string.Empty)}{reason}"))
{
    public string Address { get; } = address;

    public int? Errno { get; } = errno;
}
