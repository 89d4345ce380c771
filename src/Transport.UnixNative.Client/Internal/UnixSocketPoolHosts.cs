using System.Security.Cryptography;
using System.Text;

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// The synthetic host names that stand for unix sockets in SocketsHttpHandler's connection pool key
/// (scheme, host, port): one host per socket keeps one pool per socket, and the ConnectCallback reads
/// the socket back from the host it is asked to connect.
/// </summary>
/// <remarks>
/// A host carries the address (base32 of its UTF-8 bytes, in DNS-sized labels) and a MAC of it under a
/// key that only this instance knows. So a host ending in <c>.unix.invalid</c> that the handler did not
/// make itself (a redirect from a TCP server, a URL typed by a user) is refused: otherwise anyone who can
/// make the client fetch a URL could reach any local socket, <c>/var/run/docker.sock</c> included.
/// No table grows with the sockets used. The longest address (108 bytes with '@') gives 225 characters,
/// under DNS's 253; <c>.invalid</c> (RFC 2606) never resolves, so a host that somehow bypasses the
/// ConnectCallback fails instead of reaching a real host.
/// </remarks>
internal sealed class UnixSocketPoolHosts
{
    internal const string Suffix = ".unix.invalid";

    private const string StreamLabel = "stream";
    private const string SeqpacketLabel = "seqpacket";
    private const int LabelLength = 60; // DNS labels hold at most 63 characters
    private const int MacBytes = 16;
    private const string Base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public static bool LooksSynthetic(string host) => host.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase);

    /// <summary>A first label that gives one request a connection (and a pool) of its own: it carries descriptors.</summary>
    private const string DedicatedPrefix = "fds-";

    /// <summary><paramref name="host"/> with a <c>fds-N.</c> label in front: a pool no other request shares.</summary>
    public static string Dedicated(string host, long number) => $"{DedicatedPrefix}{number}.{host}";

    /// <summary>The host without a <see cref="Dedicated"/> label.</summary>
    public static string WithoutDedicatedLabel(string host)
        => host.StartsWith(DedicatedPrefix, StringComparison.OrdinalIgnoreCase) && host.IndexOf('.') is > 0 and var dot ? host[(dot + 1)..] : host;

    /// <summary>The host for <paramref name="target"/>; the same for the same socket, for the life of this instance.</summary>
    public string HostFor(UnixSocketTarget target)
    {
        var address = Encoding.UTF8.GetBytes(target.Display);
        var encoded = Base32(address);
        var builder = new StringBuilder(encoded.Length + 64);
        for (var i = 0; i < encoded.Length; i += LabelLength)
        {
            builder.Append(encoded, i, Math.Min(LabelLength, encoded.Length - i)).Append('.');
        }
        builder.Append(Base32(Mac(address, target.IsSeqpacket))).Append('.');
        builder.Append(target.IsSeqpacket ? SeqpacketLabel : StreamLabel).Append(Suffix);
        return builder.ToString();
    }

    /// <summary>Reads back a host made by <see cref="HostFor"/> of this instance; false for any other host.</summary>
    public bool TryParse(string host, out UnixSocketTarget? target)
    {
        target = null;
        if (!LooksSynthetic(host))
        {
            return false;
        }
        var labels = host[..^Suffix.Length].ToLowerInvariant().Split('.');
        if (labels.Length < 3)
        {
            return false;
        }
        var kind = labels[^1];
        var isSeqpacket = kind == SeqpacketLabel;
        if (!isSeqpacket && kind != StreamLabel)
        {
            return false;
        }
        if (!TryDecodeBase32(string.Concat(labels[..^2]), out var address) || address.Length > Interop.SockAddrUn.PathCapacity
            || !TryDecodeBase32(labels[^2], out var mac)
            || !CryptographicOperations.FixedTimeEquals(mac, Mac(address, isSeqpacket)))
        {
            return false;
        }
        try
        {
            target = UnixSocketTarget.Parse(Encoding.UTF8.GetString(address), isSeqpacket);
            return true;
        }
        catch (UnixSocketAddressException)
        {
            return false;
        }
    }

    private byte[] Mac(byte[] address, bool isSeqpacket)
    {
        Span<byte> input = stackalloc byte[address.Length + 1];
        address.CopyTo(input);
        input[^1] = isSeqpacket ? (byte)1 : (byte)0;
        return HMACSHA256.HashData(_key, input)[..MacBytes];
    }

    private static string Base32(ReadOnlySpan<byte> data)
    {
        var builder = new StringBuilder((data.Length * 8 + 4) / 5);
        int buffer = 0, bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                builder.Append(Base32Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
            buffer &= (1 << bits) - 1;
        }
        if (bits > 0)
        {
            builder.Append(Base32Alphabet[(buffer << (5 - bits)) & 31]);
        }
        return builder.ToString();
    }

    private static bool TryDecodeBase32(string text, out byte[] data)
    {
        var bytes = new List<byte>(text.Length * 5 / 8);
        int buffer = 0, bits = 0;
        foreach (var c in text)
        {
            var value = Base32Alphabet.IndexOf(c, StringComparison.Ordinal);
            if (value < 0)
            {
                data = [];
                return false;
            }
            buffer = (buffer << 5) | value;
            bits += 5;
            if (bits >= 8)
            {
                bytes.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
            buffer &= (1 << bits) - 1;
        }
        data = [.. bytes];
        return data.Length > 0;
    }
}
