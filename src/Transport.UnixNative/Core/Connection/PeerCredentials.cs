using System.Net;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Listener;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Core.Connection;

/// <summary>The peer as of connect(2), read once at accept (SO_PEERCRED).</summary>
internal readonly record struct PeerCredentials(int ProcessId, uint UserId, uint GroupId)
{
    /// <summary>
    /// Reads the credentials of a just-accepted socket and applies the allowlist, before any byte
    /// is read. False: close the socket. Credentials are null only if the kernel could not tell
    /// (it always can for a connected AF_UNIX socket).
    /// </summary>
    public static bool Admit(int fd, IPeerAdmission? admission, ILogger logger, EndPoint listener, out PeerCredentials? credentials, out uint[]? groups)
    {
        groups = null;
        var errno = Interop.Socket.GetPeerCredentials(fd, out var ucred);
        if (errno != 0)
        {
            credentials = null;
            TransportLog.PeerCredentialsUnavailable(logger, listener.ToString() ?? "", NativeError.Exception("getsockopt(SO_PEERCRED)", errno));
            // Fail closed when an allowlist is configured.
            return admission is null;
        }
        var peer = new PeerCredentials(ucred.Pid, ucred.Uid, ucred.Gid);
        credentials = peer;
        return admission is null || admission.Admits(fd, peer, logger, listener, out groups);
    }
}
