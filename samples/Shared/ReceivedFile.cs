using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

/// <summary>
/// Reading a file whose descriptor a peer passed: the peer chooses what it is. Only a regular file is read
/// (a device such as /dev/zero, a FIFO or a socket never ends), up to a size cap, and the read stops as soon
/// as the caller's token says the client left.
/// </summary>
internal static class ReceivedFile
{
    /// <summary>The default cap on what one request may make the server hash (<c>--max-file-size</c> changes it): 4 GiB.</summary>
    public const long DefaultMaxSize = 4L << 30;

    /// <summary>Null when <paramref name="file"/> is a regular file of at most <paramref name="maxSize"/> bytes; else why not.</summary>
    public static string? Refusal(SafeFileHandle file, long maxSize, out long size)
    {
        // statx on the descriptor itself (AT_EMPTY_PATH): its layout is the same on every architecture, unlike struct stat.
        var buffer = new byte[256];
        size = 0;
        if (Statx(file, "", AtEmptyPath, StatxType | StatxSize, buffer) != 0)
        {
            return $"cannot fstat the descriptor (errno {Marshal.GetLastPInvokeError()})";
        }
        var mode = BitConverter.ToUInt16(buffer, 28); // stx_mode
        size = BitConverter.ToInt64(buffer, 40); // stx_size
        if ((mode & FileTypeMask) != RegularFile)
        {
            return $"the descriptor is a {TypeName(mode)}, not a regular file";
        }
        return size > maxSize ? $"the file is {size} bytes; the limit is {maxSize}" : null;
    }

    /// <summary>SHA-256 of the file from offset 0 (pread: the sender's offset is untouched), at most <paramref name="maxSize"/> bytes.</summary>
    /// <exception cref="InvalidDataException">The file grew past <paramref name="maxSize"/> while it was read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired (the client left).</exception>
    public static async Task<(byte[] Hash, long Size)> Sha256Async(SafeFileHandle file, long maxSize, CancellationToken cancellationToken)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[256 * 1024];
        long size = 0;
        int n;
        while ((n = await RandomAccess.ReadAsync(file, buffer, size, cancellationToken)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            size += n;
            if (size > maxSize)
            {
                throw new InvalidDataException($"the file grew past the limit of {maxSize} bytes while it was read");
            }
            sha.AppendData(buffer, 0, n);
        }
        return (sha.GetHashAndReset(), size);
    }

    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1, StatxSize = 0x200;
    private const int FileTypeMask = 0xF000, RegularFile = 0x8000;

    private static string TypeName(int mode) => (mode & FileTypeMask) switch
    {
        0x1000 => "FIFO (pipe)",
        0x2000 => "character device",
        0x4000 => "directory",
        0x6000 => "block device",
        0xA000 => "symbolic link",
        0xC000 => "socket",
        _ => "file of an unknown type",
    };

    // A sample keeps to safe code: the classic DllImport marshals the string and the array without an unsafe block.
    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(SafeFileHandle dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);
}
