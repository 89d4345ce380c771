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

    /// <summary>Synthetic host names end here. <c>.invalid</c> (RFC 2606) can never resolve, so a request that
    /// somehow bypasses our ConnectCallback fails instead of reaching a real host.</summary>
    internal const string PoolHostSuffix = ".unix.invalid";

    /// <summary>A first label that gives one request a connection of its own (it carries descriptors): <c>fds-N.</c>.</summary>
    internal const string DedicatedPrefix = "fds-";

    /// <summary>The pool host without a <see cref="DedicatedPrefix"/> label.</summary>
    internal static string WithoutDedicatedLabel(string host)
        => host.StartsWith(DedicatedPrefix, StringComparison.OrdinalIgnoreCase) && host.IndexOf('.') is > 0 and var dot ? host[(dot + 1)..] : host;

    private const string StreamLabel = "stream";
    private const string SeqpacketLabel = "seqpacket";
    private const int HexLabelLength = 60; // DNS labels hold at most 63 characters

    private string? _poolHost;

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
        return new UnixSocketTarget(address, isAbstract: false, isSeqpacket);
    }

    /// <summary>
    /// A host name that stands for this socket in SocketsHttpHandler's connection pool key.
    /// The pool is keyed by scheme, host and port, so one synthetic host per socket keeps one pool per
    /// socket. The address is spelled out (hex of its UTF-8 bytes, in DNS-sized labels) rather than
    /// looked up in a table: any handler can decode it, and no table grows with every socket ever used.
    /// The longest address (108 bytes with '@') gives 242 characters, under DNS's 253.
    /// </summary>
    public string PoolHost => _poolHost ??= BuildPoolHost();

    private string BuildPoolHost()
    {
        var hex = Convert.ToHexStringLower(Encoding.UTF8.GetBytes(Display));
        var builder = new StringBuilder(hex.Length + hex.Length / HexLabelLength + 32);
        for (var i = 0; i < hex.Length; i += HexLabelLength)
        {
            builder.Append(hex, i, Math.Min(HexLabelLength, hex.Length - i)).Append('.');
        }
        builder.Append(IsSeqpacket ? SeqpacketLabel : StreamLabel).Append(PoolHostSuffix);
        return builder.ToString();
    }

    /// <summary>Decodes a host made by <see cref="PoolHost"/>; false for any other host.</summary>
    public static bool TryParsePoolHost(string host, out UnixSocketTarget? target)
    {
        target = null;
        host = WithoutDedicatedLabel(host);
        if (!host.EndsWith(PoolHostSuffix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var body = host.AsSpan(0, host.Length - PoolHostSuffix.Length);
        var lastDot = body.LastIndexOf('.');
        if (lastDot <= 0)
        {
            return false;
        }
        var kind = body[(lastDot + 1)..];
        bool isSeqpacket;
        if (kind.Equals(StreamLabel, StringComparison.OrdinalIgnoreCase))
        {
            isSeqpacket = false;
        }
        else if (kind.Equals(SeqpacketLabel, StringComparison.OrdinalIgnoreCase))
        {
            isSeqpacket = true;
        }
        else
        {
            return false;
        }
        var hex = body[..lastDot].ToString().Replace(".", string.Empty, StringComparison.Ordinal);
        if (hex.Length == 0 || hex.Length % 2 != 0 || hex.Length > 2 * (MaxAddressBytes + 1))
        {
            return false;
        }
        byte[] bytes;
        try
        {
            bytes = Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return false;
        }
        try
        {
            target = Parse(Encoding.UTF8.GetString(bytes), isSeqpacket);
            return true;
        }
        catch (UnixSocketAddressException)
        {
            return false;
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
