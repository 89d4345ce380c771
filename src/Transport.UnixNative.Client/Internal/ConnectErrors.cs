using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// What a ConnectCallback throws. SocketsHttpHandler wraps it once more (appending "(host:port)");
/// <see cref="UnixSocketHttpHandler"/> recognises this type and hands the caller a plain
/// <see cref="HttpRequestException"/> with the same message and inner exception instead.
/// </summary>
internal sealed class UnixSocketConnectException(string message, Exception? innerException)
    : HttpRequestException(HttpRequestError.ConnectionError, message, innerException)
{
    public HttpRequestException ToPublic() => new(HttpRequestError, Message, InnerException);
}

/// <summary>Builds connect errors that name the socket, the errno and what to do about it.</summary>
internal static unsafe partial class ConnectErrors
{
    // The runtime's SocketError mapping loses the exact errno (ENOENT becomes AddressNotAvailable, ENOTDIR
    // or ELOOP "Unknown socket error"): a second connect of our own recovers it.
    [LibraryImport(Libc.Name, EntryPoint = "socket", SetLastError = true)]
    private static partial int CreateSocket(int domain, int type, int protocol);

    [LibraryImport(Libc.Name, EntryPoint = "connect", SetLastError = true)]
    private static partial int Connect(int fd, byte* address, int addressLength);

    [LibraryImport(Libc.Name, EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    public static UnixSocketConnectException ConnectFailed(UnixSocketTarget target, SocketException exception)
    {
        var errno = ErrnoOf(target, exception);
        var reason = errno is int e ? $"{Libc.Describe(e)}. {Hint(target, e)}" : exception.Message;
        return new UnixSocketConnectException($"Cannot connect to unix socket '{target}': {reason}".TrimEnd(), exception);
    }

    public static UnixSocketConnectException InvalidAddress(UnixSocketAddressException exception)
    {
        // A too-long path is a connect error in every C program (ENAMETOOLONG); report it as one.
        var inner = exception.Errno is int errno ? Libc.SocketException(errno) : null;
        return new UnixSocketConnectException(exception.Message, inner);
    }

    public static UnixSocketConnectException WrongPeer(UnixSocketTarget target, string actual, string expected)
        => new($"Refusing unix socket '{target}': its server runs as {actual}, but {expected} was expected " +
               "(UnixSocketClientOptions.ExpectedServerUid/ExpectedServerGid).",
               new AuthenticationException($"The peer of unix socket '{target}' runs as {actual}, not {expected}."));

    /// <summary>
    /// The runtime maps errno to SocketError and back, losing some on the way: ENOENT becomes
    /// AddressNotAvailable (EADDRNOTAVAIL), ENOTDIR and ELOOP "Unknown socket error". Where the
    /// mapping is exact we trust it; otherwise one native connect to the same address tells the truth.
    /// That costs a syscall on the failure path only.
    /// </summary>
    private static int? ErrnoOf(UnixSocketTarget target, SocketException exception)
    {
        switch (exception.SocketErrorCode)
        {
            case SocketError.ConnectionRefused:
                return Libc.ECONNREFUSED;
            case SocketError.ProtocolType:
                return Libc.EPROTOTYPE;
        }
        if (Diagnose(target) is int errno)
        {
            return errno;
        }
        // The retry connected: the server appeared meanwhile. Report what the first attempt saw.
        return exception.SocketErrorCode switch
        {
            SocketError.AddressNotAvailable => Libc.ENOENT,
            SocketError.AccessDenied => Libc.EACCES,
            _ => exception.NativeErrorCode > 0 ? exception.NativeErrorCode : null,
        };
    }

    /// <summary>Connects once with a non-blocking socket of our own; returns the errno, or null if it connected.</summary>
    private static int? Diagnose(UnixSocketTarget target)
    {
        var type = (int)target.SocketType | Interop.Socket.SOCK_NONBLOCK | Interop.Socket.SOCK_CLOEXEC;
        var fd = CreateSocket(Interop.Socket.AF_UNIX, type, 0);
        if (fd < 0)
        {
            return null;
        }
        try
        {
            var address = target.EndPoint.Serialize();
            var bytes = address.Buffer.Span[..address.Size];
            int rc;
            int errno;
            fixed (byte* p = bytes)
            {
                do
                {
                    rc = Connect(fd, p, bytes.Length);
                    errno = rc == 0 ? 0 : Libc.LastErrno;
                }
                while (rc != 0 && errno == Libc.EINTR);
            }
            return rc == 0 ? null : errno;
        }
        finally
        {
            Libc.close(fd);
        }
    }

    private static string Hint(UnixSocketTarget target, int errno) => errno switch
    {
        Libc.ENOENT => "No socket file exists at that path: is the server running, and listening on this path?",
        Libc.ECONNREFUSED when target.IsAbstract => "Nothing listens on that abstract address in this network namespace.",
        Libc.ECONNREFUSED => "The path exists but nothing accepts connections on it: a stale socket file left by a server that exited, or a file that is not a socket.",
        Libc.EACCES or Libc.EPERM =>
            $"Connecting needs write permission on the socket file and search permission on every directory above it; this process runs as uid {GetEffectiveUserId()}.",
        Libc.ENOTDIR => "A component of the path is not a directory.",
        Libc.ELOOP => "The path has too many levels of symbolic links.",
        Libc.EPROTOTYPE => target.IsSeqpacket
            ? "The socket there is not SOCK_SEQPACKET: use http+unix:// (or SocketType.Stream) for a stream socket."
            : "The socket there is not SOCK_STREAM: use http+unix+seqpacket:// (or SocketType.Seqpacket) for a seqpacket socket.",
        _ => string.Empty,
    };
}
