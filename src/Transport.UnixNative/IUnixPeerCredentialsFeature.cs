using System.Runtime.InteropServices;

namespace Transport.UnixNative;

/// <summary>
/// The process at the other end of a unix socket connection, as the kernel recorded it when that
/// process called connect(2). Read once, when the connection is accepted. Reach it from
/// <c>ConnectionContext.Features</c> or, in a request, <c>HttpContext.Features</c>.
/// </summary>
/// <remarks>
/// The values describe the peer at connect time: a process may change its ids later, pass the
/// socket to another process, or exit. Ids are translated into this server's namespaces: a peer
/// whose pid is not visible here reports 0, an unmapped uid or gid reports the overflow id (65534).
/// </remarks>
public interface IUnixPeerCredentialsFeature
{
    /// <summary>The peer's process id (SO_PEERCRED).</summary>
    /// <remarks>
    /// A pid is recycled once its process exits: do not use it later to find, signal or inspect
    /// "the peer" (e.g. via <c>/proc/&lt;pid&gt;</c>) without confirming it is still the same
    /// process. <see cref="OpenPidFd"/> gives a handle that cannot be recycled.
    /// </remarks>
    int ProcessId { get; }

    /// <summary>The peer's effective user id (SO_PEERCRED).</summary>
    uint UserId { get; }

    /// <summary>The peer's effective group id (SO_PEERCRED).</summary>
    uint GroupId { get; }

    /// <summary>
    /// The peer's security label from the kernel's Linux security module (SO_PEERSEC): an SELinux context
    /// such as <c>system_u:system_r:httpd_t:s0</c> or an AppArmor profile such as <c>/usr/bin/app (enforce)</c>;
    /// <see langword="null"/> where no module labels sockets (the kernel answers <c>ENOPROTOOPT</c>). Read on
    /// the first call and cached; never throws for a missing module.
    /// </summary>
    /// <remarks>The label is the peer socket's as of connect(2) (for a socket pair, its creator's).</remarks>
    /// <exception cref="ObjectDisposedException">The connection was closed before the first call.</exception>
    string? SecurityLabel { get; }

    /// <summary>
    /// The peer's supplementary groups (SO_PEERGROUPS): the groups the peer process held, which are
    /// the groups the kernel checks against a file's group permission. Read from the kernel on the
    /// first call and cached.
    /// </summary>
    /// <remarks>
    /// These are the process's groups, not the group database's view of its user: a process that
    /// dropped its groups has none here even if /etc/group lists its user.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The connection was closed before the first call.</exception>
    IReadOnlyList<uint> GetSupplementaryGroupIds();

    /// <summary>
    /// Opens a pidfd for the peer process (SO_PEERPIDFD, Linux 6.5+): a handle that keeps naming
    /// that one process even after it exits and its pid is reused. Use it with pidfd_send_signal(2),
    /// poll(2) for exit, or to confirm that <see cref="ProcessId"/> still is the peer.
    /// </summary>
    /// <returns>
    /// A new close-on-exec descriptor the caller owns and must dispose, or <see langword="null"/>
    /// when the kernel does not support SO_PEERPIDFD or refuses it for this peer.
    /// </returns>
    /// <remarks>
    /// The transport does not hold a pidfd per connection (a descriptor each); it asks the kernel
    /// when called, which still refers to the process that connected, since the socket keeps a
    /// reference to it rather than to the number.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The connection is closed.</exception>
    SafeHandle? OpenPidFd();
}
