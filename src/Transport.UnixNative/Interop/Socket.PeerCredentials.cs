namespace Transport.UnixNative.Interop;

/// <summary>What the kernel recorded about a connected peer: SO_PEERCRED, SO_PEERGROUPS, SO_PEERPIDFD.</summary>
internal static unsafe partial class Socket
{
    internal const int SO_PEERGROUPS = 59;  // Linux 4.13
    internal const int SO_PEERPIDFD = 77;   // Linux 6.5
    internal const int SO_PEERSEC = 31;
    internal const int ESRCH = 3;
    internal const int ERANGE = 34;
    internal const int ENOPROTOOPT = 92;

    /// <summary>The peer's pid, uid and gid as of connect(2); 0 or errno.</summary>
    internal static int GetPeerCredentials(int fd, out UCred credentials)
    {
        UCred c;
        int length = sizeof(UCred);
        var rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &length);
        credentials = c;
        return rc == 0 ? 0 : Libc.LastErrno;
    }

    /// <summary>The peer's supplementary groups as of connect(2); 0 or errno.</summary>
    internal static int GetPeerGroups(int fd, out uint[] groups)
    {
        // Most processes have a handful of groups; on ERANGE the kernel says how much room it needs.
        var room = 16;
        while (true)
        {
            var buffer = new uint[room];
            int length = room * sizeof(uint);
            int rc;
            fixed (uint* p = buffer)
            {
                rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p, &length);
            }
            if (rc == 0)
            {
                var count = length / sizeof(uint);
                groups = count == room ? buffer : buffer[..count];
                return 0;
            }
            var errno = Libc.LastErrno;
            if (errno == ERANGE && length / sizeof(uint) > room)
            {
                room = length / sizeof(uint);
                continue;
            }
            groups = [];
            return errno;
        }
    }

    /// <summary>A new pidfd (always close-on-exec) for the peer process as of connect(2); 0 or errno (ENOPROTOOPT before Linux 6.5).</summary>
    internal static int GetPeerPidFd(int fd, out SafeFdHandle pidFd)
    {
        int value = -1;
        int length = sizeof(int);
        var rc = getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &value, &length);
        var errno = rc == 0 ? 0 : Libc.LastErrno;
        pidFd = new SafeFdHandle(rc == 0 ? value : -1);
        return errno;
    }

    /// <summary>The peer's LSM label as the kernel returns it (SO_PEERSEC); 0 or errno (ENOPROTOOPT: no LSM labels sockets).</summary>
    internal static int GetPeerSecurityLabel(int fd, out byte[] label)
    {
        var room = 256;
        while (true)
        {
            var buffer = new byte[room];
            int length = room;
            int rc;
            fixed (byte* p = buffer)
            {
                rc = getsockopt(fd, SOL_SOCKET, SO_PEERSEC, p, &length);
            }
            if (rc == 0)
            {
                label = buffer[..Math.Clamp(length, 0, room)];
                return 0;
            }
            var errno = Libc.LastErrno;
            if (errno == ERANGE && length > room && room < 64 * 1024)
            {
                room = length;
                continue;
            }
            label = [];
            return errno;
        }
    }
}
