namespace Transport.UnixNative;

/// <summary>
/// Owner, group and mode for one endpoint's socket file, overriding the transport-wide
/// <see cref="UnixNativeTransportOptions.SocketFileMode"/>, <see cref="UnixNativeTransportOptions.SocketFileGroup"/>
/// and <see cref="UnixNativeTransportOptions.SocketFileOwner"/> (a <see langword="null"/> property keeps the transport-wide value).
/// </summary>
public sealed class UnixSocketFileOptions
{
    /// <summary>The permissions of the socket file, e.g. 0660.</summary>
    /// <remarks>Defaults to <see langword="null"/>: the transport-wide <see cref="UnixNativeTransportOptions.SocketFileMode"/>.</remarks>
    public UnixFileMode? Mode { get; set; }

    /// <summary>The group (name or numeric id) of the socket file.</summary>
    /// <remarks>Defaults to <see langword="null"/>: the transport-wide <see cref="UnixNativeTransportOptions.SocketFileGroup"/>.</remarks>
    public string? Group { get; set; }

    /// <summary>The owner (user name or numeric id) of the socket file.</summary>
    /// <remarks>Defaults to <see langword="null"/>: the transport-wide <see cref="UnixNativeTransportOptions.SocketFileOwner"/>.</remarks>
    public string? Owner { get; set; }
}
