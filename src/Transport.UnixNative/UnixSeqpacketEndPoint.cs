using System.Net;
using System.Net.Sockets;

namespace Transport.UnixNative;

/// <summary>
/// A <c>SOCK_SEQPACKET</c> unix socket address: an absolute path or <c>@name</c> for a Linux abstract address.
/// Seqpacket sockets are reliable and ordered like streams and keep message boundaries like datagrams.
/// </summary>
public sealed class UnixSeqpacketEndPoint : EndPoint
{
    internal static readonly UnixSeqpacketEndPoint Unnamed = new();

    /// <summary>Creates an endpoint for <paramref name="address"/>: <c>/absolute/path</c> or <c>@abstract-name</c>.</summary>
    public UnixSeqpacketEndPoint(string address)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        Address = address[0] == '\0' ? "@" + address[1..] : address;
    }

    private UnixSeqpacketEndPoint()
    {
        Address = string.Empty;
    }

    /// <summary>The path, or <c>@name</c> for an abstract address; empty for an unnamed peer.</summary>
    public string Address { get; }

    /// <summary>
    /// Whether connections keep message boundaries for a connection handler through
    /// <see cref="IUnixMessageFeature"/> instead of carrying a byte stream (HTTP).
    /// </summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public bool PreserveMessageBoundaries { get; init; }

    /// <summary>Whether this is a Linux abstract address (no file; lives in the network namespace).</summary>
    public bool IsAbstract => Address.StartsWith('@');

    /// <inheritdoc/>
    public override AddressFamily AddressFamily => AddressFamily.Unix;

    /// <summary>
    /// Kestrel shows it as <c>http://unix-seqpacket:/path</c>, the URL form that binds it: a valid host
    /// name, so the address also parses as a <see cref="Uri"/> like <c>http://unix:/path</c> does.
    /// </summary>
    public override string ToString() => "unix-seqpacket:" + Address;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is UnixSeqpacketEndPoint other && other.Address == Address && other.PreserveMessageBoundaries == PreserveMessageBoundaries;

    /// <inheritdoc/>
    public override int GetHashCode() => Address.GetHashCode(StringComparison.Ordinal);
}
