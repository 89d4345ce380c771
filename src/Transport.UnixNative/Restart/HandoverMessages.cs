using System.Text.Json;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Restart;

/// <summary>
/// The hand-over conversation, one seqpacket message each:
/// successor <c>TAKE 2</c> → predecessor: a JSON list of its sockets, their descriptors attached in
/// the same order (then, for an abstract control socket, its listening descriptor: an abstract name
/// cannot be bound again while the predecessor holds it) → successor <c>STARTING</c> every second while
/// it starts, then <c>READY</c> once it serves them → predecessor <c>DONE</c> once it no longer accepts
/// and its control socket is gone. Each wait has a deadline of <see cref="ControlChannel.ExchangeTimeout"/>.
/// </summary>
internal static class HandoverMessages
{
    public static ReadOnlySpan<byte> Take => "TAKE 2"u8;

    /// <summary>The successor's heartbeat while it starts: it is alive, READY is still to come.</summary>
    public static ReadOnlySpan<byte> Starting => "STARTING"u8;

    public static ReadOnlySpan<byte> Ready => "READY"u8;

    public static ReadOnlySpan<byte> Done => "DONE"u8;

    internal sealed record Entry(string FdName, UnixSocketAddress Address, SocketFile.FileIdentity? OwnedFile);

    public static byte[] Describe(IReadOnlyList<Entry> entries, bool withControlSocket)
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
            json.WriteBoolean("controlSocket", withControlSocket);
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    public static List<Entry> Parse(ReadOnlySpan<byte> message, out bool withControlSocket)
    {
        var reader = new Utf8JsonReader(message);
        using var document = JsonDocument.ParseValue(ref reader);
        withControlSocket = document.RootElement.TryGetProperty("controlSocket", out var control) && control.GetBoolean();
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
