using System.Net;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative;

/// <summary>
/// A unix socket address exactly as the kernel reported it: the raw bytes of a path or of a Linux
/// abstract name. A connection's <c>RemoteEndPoint</c> is one of these when the peer's own socket is
/// bound to an address that <see cref="UnixDomainSocketEndPoint"/> cannot show exactly and safely:
/// bytes that are not UTF-8, control characters or NULs, or a path that fills all 108 bytes of
/// <c>sun_path</c>. Other peers keep the runtime's type.
/// </summary>
/// <remarks>
/// Equality compares the bytes. <see cref="ToString"/> is safe for logs: <c>@</c> marks an abstract
/// name, and every byte that is not printable UTF-8 is written as <c>\xNN</c> (a backslash as <c>\\</c>).
/// </remarks>
public sealed class UnixPeerEndPoint : EndPoint, IEquatable<UnixPeerEndPoint>
{
    private readonly byte[] _name;
    private string? _display;

    /// <summary>An endpoint for the name bytes <paramref name="name"/>.</summary>
    /// <param name="name">A path's bytes (at most 108, no NUL) or an abstract name's bytes (at most 107, any bytes), without the leading NUL.</param>
    /// <param name="isAbstract">Whether <paramref name="name"/> is a Linux abstract name.</param>
    /// <exception cref="ArgumentException">The kernel could not hold this address.</exception>
    public UnixPeerEndPoint(ReadOnlySpan<byte> name, bool isAbstract)
    {
        if (isAbstract ? name.Length > SockAddrUn.MaxAbstractNameBytes : name.Length > SockAddrUn.MaxPeerPathBytes || name.Contains((byte)0))
        {
            throw new ArgumentException(isAbstract
                ? $"An abstract unix socket name holds at most {SockAddrUn.MaxAbstractNameBytes} bytes; got {name.Length}."
                : $"A unix socket path holds at most {SockAddrUn.MaxPeerPathBytes} bytes and no NUL; got {name.Length} bytes.", nameof(name));
        }
        _name = name.ToArray();
        IsAbstract = isAbstract;
    }

    /// <summary>The name's bytes: the path without its terminating NUL, or the abstract name without its leading NUL.</summary>
    public ReadOnlyMemory<byte> Name => _name;

    /// <summary>Whether this is a Linux abstract address (no file; lives in the network namespace).</summary>
    public bool IsAbstract { get; }

    /// <inheritdoc/>
    public override AddressFamily AddressFamily => AddressFamily.Unix;

    /// <summary>The <c>struct sockaddr_un</c> with the exact length the kernel uses for this address.</summary>
    public override SocketAddress Serialize()
    {
        Span<byte> buffer = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(IsAbstract, _name, buffer);
        var address = new SocketAddress(AddressFamily.Unix, length);
        buffer[..length].CopyTo(address.Buffer.Span);
        return address;
    }

    /// <inheritdoc/>
    public override EndPoint Create(SocketAddress socketAddress)
    {
        ArgumentNullException.ThrowIfNull(socketAddress);
        if (socketAddress.Family != AddressFamily.Unix)
        {
            throw new ArgumentException($"Expected an AF_UNIX address, got {socketAddress.Family}.", nameof(socketAddress));
        }
        var name = SockAddrUn.DecodeBytes(socketAddress.Buffer.Span[..socketAddress.Size], out var isAbstract);
        return new UnixPeerEndPoint(name, isAbstract);
    }

    /// <summary><c>/path</c> or <c>@name</c>, with <c>\xNN</c> for every byte that is not printable UTF-8.</summary>
    public override string ToString() => _display ??= Display(_name, IsAbstract);

    /// <inheritdoc/>
    public bool Equals(UnixPeerEndPoint? other)
        => other is not null && other.IsAbstract == IsAbstract && other._name.AsSpan().SequenceEqual(_name);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as UnixPeerEndPoint);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(IsAbstract);
        hash.AddBytes(_name);
        return hash.ToHashCode();
    }

    /// <summary>Whether <paramref name="name"/> is UTF-8 without control or format characters, so its text shows it exactly and safely.</summary>
    internal static bool IsPrintableUtf8(ReadOnlySpan<byte> name)
    {
        while (!name.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(name, out var rune, out var consumed) != System.Buffers.OperationStatus.Done || !IsPrintable(rune))
            {
                return false;
            }
            name = name[consumed..];
        }
        return true;
    }

    private static bool IsPrintable(Rune rune)
        => !Rune.IsControl(rune) && Rune.GetUnicodeCategory(rune) is not (System.Globalization.UnicodeCategory.Format
            or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator);

    private static string Display(ReadOnlySpan<byte> name, bool isAbstract)
    {
        var builder = new StringBuilder(name.Length + 1);
        if (isAbstract)
        {
            builder.Append('@');
        }
        while (!name.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(name, out var rune, out var consumed);
            if (status == System.Buffers.OperationStatus.Done && IsPrintable(rune) && rune.Value != '\\')
            {
                builder.Append(rune.ToString());
                name = name[consumed..];
                continue;
            }
            if (status == System.Buffers.OperationStatus.Done && rune.Value == '\\')
            {
                builder.Append(@"\\");
                name = name[1..];
                continue;
            }
            // Not printable, or not UTF-8: every byte of it is shown as \xNN.
            var count = status == System.Buffers.OperationStatus.Done ? consumed : Math.Max(1, consumed);
            foreach (var b in name[..count])
            {
                builder.Append(@"\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            }
            name = name[count..];
        }
        return builder.ToString();
    }
}
