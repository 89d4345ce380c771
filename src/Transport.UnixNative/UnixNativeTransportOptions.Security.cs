namespace Transport.UnixNative;

// Who may connect: the socket file's owner, group and mode, and an allowlist checked at accept.
public sealed partial class UnixNativeTransportOptions
{
    /// <summary>
    /// User ids allowed to connect. The transport reads the peer's credentials (SO_PEERCRED) right
    /// after accepting and closes a connection from anyone else before reading a byte of it.
    /// </summary>
    /// <remarks>
    /// Defaults to <see langword="null"/>: no check by user on socket files (their permissions decide),
    /// and <b>on abstract addresses only this process's uid and root</b> (see
    /// <see cref="AllowAnyUserOnAbstractAddresses"/>). When <see cref="AllowedUserIds"/> or
    /// <see cref="AllowedGroupIds"/> is set, it is the rule for every endpoint, abstract ones included:
    /// a peer is accepted if its user id is in <see cref="AllowedUserIds"/> or one of its groups is in
    /// <see cref="AllowedGroupIds"/>; an empty set allows nobody. Neither root nor this process's own
    /// uid is then implicitly allowed: list them if they must connect. Unlike socket file permissions
    /// this also guards abstract addresses and inherited (systemd) sockets. A refusal is logged once per
    /// uid and endpoint with the peer's pid and uid (event id 40; 44 for the abstract default). The
    /// sets are read when an endpoint is bound.
    /// </remarks>
    public ISet<uint>? AllowedUserIds { get; set; }

    /// <summary>
    /// Group ids allowed to connect: a peer is accepted if its effective group (SO_PEERCRED) or
    /// one of its supplementary groups (SO_PEERGROUPS) is in the set, the same groups the kernel
    /// checks against a socket file's group permission.
    /// </summary>
    /// <remarks>
    /// Defaults to <see langword="null"/>: no check by group. See <see cref="AllowedUserIds"/>
    /// for how the two sets combine.
    /// </remarks>
    public ISet<uint>? AllowedGroupIds { get; set; }

    /// <summary>
    /// Lets every uid connect to abstract addresses (<c>@name</c>) when no allowlist is set. An abstract
    /// address has no file and no permissions: any process in the network namespace reaches it,
    /// including containers sharing the host's network. So by default an abstract listener (bound
    /// here, activated by systemd or handed over) admits only this process's uid and root and closes
    /// anyone else's connection before reading a byte (logged once per uid, event id 44, naming the
    /// options that would admit it). Set this to <see langword="true"/> only where every local user may
    /// talk to the service; to admit some users, set <see cref="AllowedUserIds"/> or
    /// <see cref="AllowedGroupIds"/> instead. Socket files are unaffected: their mode decides.
    /// Configuration: <c>Kestrel:UnixNative:AllowAnyUserOnAbstractAddresses</c>.
    /// </summary>
    /// <remarks>
    /// Defaults to <see langword="false"/>: abstract addresses admit this process's uid and root only.
    /// Setting it together with <see cref="AllowedUserIds"/> or <see cref="AllowedGroupIds"/> fails
    /// validation (the allowlist would win silently).
    /// </remarks>
    public bool AllowAnyUserOnAbstractAddresses { get; set; }

    /// <summary>
    /// The permissions of socket files this transport creates, set after bind(2) and before
    /// listen(2) so no client can connect while the file is more open. Connecting needs write
    /// permission: <c>UserRead | UserWrite | GroupRead | GroupWrite</c> (0660) lets the owner and
    /// the group in.
    /// </summary>
    /// <remarks>
    /// Defaults to <see langword="null"/>: the file keeps the mode bind(2) gives it (0777 less the
    /// process umask). The umask is never changed. Only permission bits (0777) are allowed. Has
    /// no effect on abstract addresses (they have no file; use <see cref="AllowedUserIds"/>) or
    /// on inherited sockets (their creator sets the mode, e.g. systemd's <c>SocketMode=</c>).
    /// </remarks>
    public UnixFileMode? SocketFileMode { get; set; }

    /// <summary>The group (name or numeric id) given to socket files this transport creates, before listen(2).</summary>
    /// <remarks>
    /// Defaults to <see langword="null"/>: the process's effective group. A process that is not
    /// root may only choose one of its own groups; otherwise binding fails with an error naming
    /// the path, the group and EPERM.
    /// </remarks>
    public string? SocketFileGroup { get; set; }

    /// <summary>The owner (user name or numeric id) given to socket files this transport creates, before listen(2).</summary>
    /// <remarks>
    /// Defaults to <see langword="null"/>: the process's effective user. Changing the owner needs
    /// root (CAP_CHOWN), e.g. a root service creating a socket for an unprivileged user.
    /// </remarks>
    public string? SocketFileOwner { get; set; }

    /// <summary>
    /// Owner, group and mode per socket file, keyed by its absolute path: they override the
    /// transport-wide settings above for that endpoint. Configuration fills it from
    /// <c>Kestrel:Endpoints:NAME</c> sections whose <c>Url</c> is a unix socket path
    /// (<c>SocketFileMode</c>, <c>SocketFileGroup</c>, <c>SocketFileOwner</c> beside <c>Url</c>).
    /// </summary>
    /// <remarks>Defaults to empty: every socket file gets the transport-wide settings.</remarks>
    public IDictionary<string, UnixSocketFileOptions> SocketFiles { get; } = new Dictionary<string, UnixSocketFileOptions>(StringComparer.Ordinal);
}
