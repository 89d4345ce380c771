// Compiled into the server and the client (src/Shared, one namespace): sun_path, encoded and validated once.
using System.Globalization;
using System.Text;

namespace Transport.UnixNative.Interop;

/// <summary>
/// Encodes <c>struct sockaddr_un</c>. A path is NUL-terminated; an abstract name is a leading NUL
/// followed by exactly the name's bytes, and the address length passed to the kernel ends there:
/// padding it to the full structure would name a different socket (curl, Go and Python would not reach it).
/// </summary>
internal static class SockAddrUn
{
    internal const int PathOffset = 2;        // offsetof(struct sockaddr_un, sun_path)
    internal const int PathCapacity = 108;    // sizeof(sun_path)
    internal const int Size = PathOffset + PathCapacity;

    /// <summary>The longest path in bytes: one byte of sun_path is the terminating NUL.</summary>
    internal const int MaxPathBytes = PathCapacity - 1;

    /// <summary>The longest abstract name in bytes: one byte of sun_path is the leading NUL.</summary>
    internal const int MaxAbstractNameBytes = PathCapacity - 1;

    /// <summary>The longest path the kernel reports for a peer: Linux accepts a full sun_path without a terminating NUL.</summary>
    internal const int MaxPeerPathBytes = PathCapacity;

    /// <summary>
    /// Why a path or an abstract name (without its '@') cannot go in sun_path, or null when it fits.
    /// <paramref name="errno"/> is ENAMETOOLONG for a name that is too long, else 0. Names are never truncated.
    /// </summary>
    internal static string? Problem(string name, bool isAbstract, out int errno)
    {
        errno = 0;
        var bytes = Encoding.UTF8.GetByteCount(name);
        if (isAbstract)
        {
            if (bytes == 0)
            {
                return "an abstract address needs a name after '@'.";
            }
            if (bytes > MaxAbstractNameBytes)
            {
                errno = Libc.ENAMETOOLONG;
                return string.Create(CultureInfo.InvariantCulture,
                    $"the abstract name is {bytes} bytes; sun_path holds at most {MaxAbstractNameBytes} after the leading NUL.");
            }
            return null;
        }
        if (name.Contains('\0'))
        {
            return "the path contains a NUL character.";
        }
        if (bytes > MaxPathBytes)
        {
            errno = Libc.ENAMETOOLONG;
            return string.Create(CultureInfo.InvariantCulture,
                $"the path is {bytes} bytes; sun_path holds at most {MaxPathBytes} plus the terminating NUL. ") +
                "Paths are never truncated: use a shorter path or an abstract '@name'.";
        }
        return null;
    }

    /// <summary>"Invalid unix socket address '/p': ENAMETOOLONG: the path is …": the one wording of an address error.</summary>
    internal static string InvalidAddress(string address, string reason, int errno)
        => $"Invalid unix socket address '{address.Replace("\0", "\\0", StringComparison.Ordinal)}': {(errno != 0 ? Libc.ErrnoName(errno) + ": " : string.Empty)}{reason}";

    /// <summary>Writes the address into <paramref name="buffer"/> (at least <see cref="Size"/> bytes) and returns its length.</summary>
    internal static int Encode(bool isAbstract, string name, Span<byte> buffer)
    {
        Span<byte> bytes = stackalloc byte[PathCapacity];
        var written = Encoding.UTF8.GetBytes(name, bytes);
        return Encode(isAbstract, bytes[..written], buffer);
    }

    /// <summary>
    /// Writes an address of raw name bytes: a path gets its terminating NUL when there is room
    /// (a 108-byte path fills sun_path, as Linux allows), an abstract name its leading NUL.
    /// </summary>
    internal static int Encode(bool isAbstract, ReadOnlySpan<byte> name, Span<byte> buffer)
    {
        buffer[..Size].Clear();
        buffer[0] = Socket.AF_UNIX; // sa_family_t, little-endian on every supported architecture
        var path = buffer.Slice(PathOffset, PathCapacity);
        if (isAbstract)
        {
            name.CopyTo(path[1..]);
            return PathOffset + 1 + name.Length;
        }
        name.CopyTo(path);
        return Math.Min(Size, PathOffset + name.Length + 1);
    }

    /// <summary>Reads an address the kernel returned; an unnamed socket yields an empty name.</summary>
    internal static (bool IsAbstract, string Name) Decode(ReadOnlySpan<byte> address)
    {
        var name = DecodeBytes(address, out var isAbstract);
        return (isAbstract, Encoding.UTF8.GetString(name));
    }

    /// <summary>
    /// The exact name bytes of an address the kernel returned: an abstract name is every byte after
    /// the leading NUL (NULs included), a path ends at its NUL or at the end of sun_path.
    /// </summary>
    internal static ReadOnlySpan<byte> DecodeBytes(ReadOnlySpan<byte> address, out bool isAbstract)
    {
        isAbstract = false;
        if (address.Length <= PathOffset)
        {
            return default;
        }
        var path = address[PathOffset..Math.Min(address.Length, Size)];
        if (path[0] == 0)
        {
            isAbstract = true;
            return path[1..];
        }
        var end = path.IndexOf((byte)0);
        return end < 0 ? path : path[..end];
    }
}
