using System.Text.Json;
using Transport.UnixNative.Internal;

namespace Transport.UnixNative.Handover;

/// <summary>
/// The hand-over conversation, one seqpacket message each:
/// successor <c>TAKE 1</c> → predecessor: a JSON list of its sockets, their descriptors attached in
/// the same order → successor <c>READY</c> once it serves them → predecessor <c>DONE</c> once it no
/// longer accepts and its control socket is gone.
/// </summary>
internal static class HandoverMessages
{
    public static ReadOnlySpan<byte> Take => "TAKE 1"u8;

    public static ReadOnlySpan<byte> Ready => "READY"u8;

    public static ReadOnlySpan<byte> Done => "DONE"u8;

    internal sealed record Entry(string FdName, UnixSocketAddress Address, SocketFile.FileIdentity? OwnedFile);

    public static byte[] Describe(IReadOnlyList<Entry> entries)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteStartArray("sockets");
            foreach (var entry in entries)
            {
                json.WriteStartObject();
                json.WriteString("fdName", entry.FdName);
                json.WriteString("address", entry.Address.DisplayName);
                json.WriteBoolean("seqpacket", entry.Address.IsSeqpacket);
                if (entry.OwnedFile is { } file)
                {
                    // The predecessor created this file: whoever serves it last may remove it.
                    json.WriteStartObject("file");
                    json.WriteNumber("devMajor", file.DevMajor);
                    json.WriteNumber("devMinor", file.DevMinor);
                    json.WriteNumber("inode", file.Inode);
                    json.WriteEndObject();
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    public static List<Entry> Parse(ReadOnlySpan<byte> message)
    {
        var reader = new Utf8JsonReader(message);
        using var document = JsonDocument.ParseValue(ref reader);
        var entries = new List<Entry>();
        foreach (var socket in document.RootElement.GetProperty("sockets").EnumerateArray())
        {
            var address = socket.GetProperty("address").GetString() ?? throw new FormatException("A hand-over entry has no address.");
            SocketFile.FileIdentity? file = socket.TryGetProperty("file", out var f)
                ? new SocketFile.FileIdentity(f.GetProperty("devMajor").GetUInt32(), f.GetProperty("devMinor").GetUInt32(), f.GetProperty("inode").GetUInt64())
                : null;
            entries.Add(new Entry(socket.GetProperty("fdName").GetString() ?? "", UnixSocketAddress.Parse(address, socket.GetProperty("seqpacket").GetBoolean()), file));
        }
        return entries;
    }
}
