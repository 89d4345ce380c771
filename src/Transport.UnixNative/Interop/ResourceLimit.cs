using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>getrlimit(2) for RLIMIT_NOFILE.</summary>
internal static unsafe partial class ResourceLimit
{
    private const int RLIMIT_NOFILE = 7;

    [LibraryImport(Libc.Name, SetLastError = true)]
    private static partial int getrlimit(int resource, RLimit* limit);

    /// <summary>The soft limit on descriptor numbers (every fd is below it), or <see cref="int.MaxValue"/> if unknown or unlimited.</summary>
    internal static int OpenFilesLimit()
    {
        RLimit limit;
        return getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.Current < int.MaxValue ? (int)limit.Current : int.MaxValue;
    }
}

/// <summary><c>struct rlimit</c>: two <c>rlim_t</c> (unsigned long) on 64-bit Linux.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RLimit
{
    public ulong Current;
    public ulong Maximum;
}
