using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>Owns one file descriptor and closes it exactly once.</summary>
internal sealed class SafeFdHandle : SafeHandle
{
    public SafeFdHandle() : base(invalidHandleValue: -1, ownsHandle: true)
    {
    }

    public SafeFdHandle(int fd, bool ownsHandle = true) : base(invalidHandleValue: -1, ownsHandle)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle < 0;

    /// <summary>
    /// The descriptor number, for calls made while the owner guarantees it stays open; -1 once
    /// disposed, so a call after close fails with EBADF instead of reaching a descriptor that
    /// reuses the number. A thread that may race the close holds DangerousAddRef and uses
    /// DangerousGetHandle instead.
    /// </summary>
    public int Fd => IsClosed ? -1 : (int)handle;

    // Never retry close on EINTR: on Linux the descriptor is released whatever close returns.
    protected override bool ReleaseHandle() => Libc.close((int)handle) == 0 || Libc.LastErrno == Libc.EINTR;
}
