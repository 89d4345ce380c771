using System.Text;

namespace Transport.UnixNative.Core.Connection;

/// <summary>Turns SO_PEERSEC's bytes into a label.</summary>
internal static class PeerSecurityLabel
{
    /// <summary>
    /// SELinux counts the terminating NUL in the length, AppArmor does not: drop trailing NULs (and
    /// anything after an embedded NUL, which no module produces). Empty means no label.
    /// </summary>
    public static string? Parse(ReadOnlySpan<byte> raw)
    {
        var end = raw.IndexOf((byte)0);
        var text = end >= 0 ? raw[..end] : raw;
        return text.IsEmpty ? null : Encoding.UTF8.GetString(text);
    }
}
