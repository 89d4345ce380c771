using System.Net;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.Core.Listener;

/// <summary>
/// Who may connect, and what a new socket file looks like. Access answers it; the listener asks once
/// at bind (between bind and listen, so no client sees the file unguarded) and its rule at every accept.
/// </summary>
internal interface IListenerAccess
{
    /// <summary>Sets the mode, owner and group of the socket file just bound for <paramref name="address"/>.</summary>
    void PrepareSocketFile(UnixSocketAddress address, SocketFile.FileIdentity? bound, ILogger logger);

    /// <summary>The rule for a listener on <paramref name="address"/> (null: the name is unknown), or null when every peer may connect.</summary>
    IPeerAdmission? AdmissionFor(UnixSocketAddress? address);

    /// <summary>The rule for an already-connected socket, or null when every peer may connect.</summary>
    IPeerAdmission? AdmissionForConnected();
}

/// <summary>One listener's rule, applied to each peer before a byte of it is read.</summary>
internal interface IPeerAdmission
{
    /// <summary>
    /// Whether <paramref name="peer"/> (on socket <paramref name="fd"/>) may connect; a refusal is logged by the rule.
    /// <paramref name="groups"/> returns the peer's supplementary groups if the rule had to read them.
    /// </summary>
    bool Admits(int fd, PeerCredentials peer, ILogger logger, EndPoint listener, out uint[]? groups);
}
