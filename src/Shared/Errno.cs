// Compiled into the server and the client (src/Shared, one namespace): one errno table.
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>errno values (Linux, the same on x86-64 and arm64) and the names people search for.</summary>
internal static partial class Libc
{
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EBADF = 9;
    internal const int EAGAIN = 11;
    internal const int ENOMEM = 12;
    internal const int EACCES = 13;
    internal const int EEXIST = 17;
    internal const int ENOTDIR = 20;
    internal const int EINVAL = 22;
    internal const int ENFILE = 23;
    internal const int EMFILE = 24;
    internal const int EPIPE = 32;
    internal const int ENAMETOOLONG = 36;
    internal const int ELOOP = 40;
    internal const int ENOTSOCK = 88;
    internal const int EMSGSIZE = 90;
    internal const int EPROTOTYPE = 91;
    internal const int EOPNOTSUPP = 95;
    internal const int EADDRINUSE = 98;
    internal const int ECONNABORTED = 103;
    internal const int ECONNRESET = 104;
    internal const int ENOBUFS = 105;
    internal const int ENOTCONN = 107;
    internal const int ETIMEDOUT = 110;
    internal const int ECONNREFUSED = 111;

    /// <summary>The errno of the last call made with <c>SetLastError = true</c>.</summary>
    internal static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>"ECONNREFUSED (Connection refused)": the symbolic name people search for, then the text.</summary>
    internal static string Describe(int errno) => $"{ErrnoName(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})";

    internal static string ErrnoName(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EINTR => "EINTR",
        EBADF => "EBADF",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EEXIST => "EEXIST",
        ENOTDIR => "ENOTDIR",
        EINVAL => "EINVAL",
        ENFILE => "ENFILE",
        EMFILE => "EMFILE",
        EPIPE => "EPIPE",
        ENAMETOOLONG => "ENAMETOOLONG",
        ELOOP => "ELOOP",
        ENOTSOCK => "ENOTSOCK",
        EMSGSIZE => "EMSGSIZE",
        EPROTOTYPE => "EPROTOTYPE",
        EOPNOTSUPP => "EOPNOTSUPP",
        EADDRINUSE => "EADDRINUSE",
        ECONNABORTED => "ECONNABORTED",
        ECONNRESET => "ECONNRESET",
        ENOBUFS => "ENOBUFS",
        ENOTCONN => "ENOTCONN",
        ETIMEDOUT => "ETIMEDOUT",
        ECONNREFUSED => "ECONNREFUSED",
        _ => $"errno {errno}",
    };

    /// <summary>
    /// A <see cref="System.Net.Sockets.SocketException"/> whose <c>SocketErrorCode</c> is a real
    /// <see cref="System.Net.Sockets.SocketError"/> (the constructor takes one, not an errno). The errno itself
    /// stays in the message and in <c>Data["errno"]</c>; <c>NativeErrorCode</c> is the platform's code for the
    /// SocketError, which is the errno wherever the two correspond one to one.
    /// </summary>
    internal static System.Net.Sockets.SocketException SocketException(int errno)
    {
        var exception = new System.Net.Sockets.SocketException((int)ToSocketError(errno), Describe(errno));
        exception.Data["errno"] = errno;
        return exception;
    }

    /// <summary>The SocketError for an errno, as the runtime maps them; <c>SocketError.SocketError</c> where none fits.</summary>
    internal static System.Net.Sockets.SocketError ToSocketError(int errno) => errno switch
    {
        EPERM or EACCES => System.Net.Sockets.SocketError.AccessDenied,
        ENOENT => System.Net.Sockets.SocketError.AddressNotAvailable,
        EINTR => System.Net.Sockets.SocketError.Interrupted,
        EBADF => System.Net.Sockets.SocketError.OperationAborted,
        EAGAIN => System.Net.Sockets.SocketError.WouldBlock,
        ENOMEM or ENOBUFS => System.Net.Sockets.SocketError.NoBufferSpaceAvailable,
        EINVAL or ENAMETOOLONG or ENOTDIR or ELOOP or EEXIST => System.Net.Sockets.SocketError.InvalidArgument,
        ENFILE or EMFILE => System.Net.Sockets.SocketError.TooManyOpenSockets,
        EPIPE => System.Net.Sockets.SocketError.Shutdown,
        ENOTSOCK => System.Net.Sockets.SocketError.NotSocket,
        EMSGSIZE => System.Net.Sockets.SocketError.MessageSize,
        EPROTOTYPE => System.Net.Sockets.SocketError.ProtocolType,
        EOPNOTSUPP => System.Net.Sockets.SocketError.OperationNotSupported,
        EADDRINUSE => System.Net.Sockets.SocketError.AddressAlreadyInUse,
        ECONNABORTED => System.Net.Sockets.SocketError.ConnectionAborted,
        ECONNRESET => System.Net.Sockets.SocketError.ConnectionReset,
        ENOTCONN => System.Net.Sockets.SocketError.NotConnected,
        ETIMEDOUT => System.Net.Sockets.SocketError.TimedOut,
        ECONNREFUSED => System.Net.Sockets.SocketError.ConnectionRefused,
        _ => System.Net.Sockets.SocketError.SocketError,
    };
}
