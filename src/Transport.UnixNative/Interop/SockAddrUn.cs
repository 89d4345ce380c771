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

    /// <summary>Writes the address into <paramref name="buffer"/> (at least <see cref="Size"/> bytes) and returns its length.</summary>
    internal static int Encode(bool isAbstract, string name, Span<byte> buffer)
    {
        buffer[..Size].Clear();
        buffer[0] = Socket.AF_UNIX; // sa_family_t, little-endian on every supported architecture
        var path = buffer.Slice(PathOffset, PathCapacity);
        if (isAbstract)
        {
            var written = Encoding.UTF8.GetBytes(name, path[1..]);
            return PathOffset + 1 + written;
        }
        var length = Encoding.UTF8.GetBytes(name, path);
        return PathOffset + length + 1;
    }

    /// <summary>Reads an address the kernel returned; an unnamed socket yields an empty name.</summary>
    internal static (bool IsAbstract, string Name) Decode(ReadOnlySpan<byte> address)
    {
        if (address.Length <= PathOffset)
        {
            return (false, string.Empty);
        }
        var path = address[PathOffset..];
        if (path[0] == 0)
        {
            return (true, Encoding.UTF8.GetString(path[1..]));
        }
        var end = path.IndexOf((byte)0);
        return (false, Encoding.UTF8.GetString(end < 0 ? path : path[..end]));
    }
}
