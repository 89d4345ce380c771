using System.Runtime.InteropServices;
using System.Text;

namespace Transport.UnixNative.Interop;

/// <summary>
/// The user and group databases through NSS: getpwuid_r(3), getpwnam_r(3), getgrgid_r(3), getgrnam_r(3).
/// The reentrant forms only: these run on many threads at once. A lookup may block (LDAP, sssd).
/// </summary>
internal static unsafe partial class Users
{
    private const int ERANGE = 34;
    private const int InitialBufferSize = 1024;
    private const int MaxBufferSize = 1024 * 1024;

    [LibraryImport(Libc.Name)]
    private static partial int getpwuid_r(uint uid, Passwd* pwd, byte* buffer, nuint bufferLength, Passwd** result);

    [LibraryImport(Libc.Name, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int getpwnam_r(string name, Passwd* pwd, byte* buffer, nuint bufferLength, Passwd** result);

    [LibraryImport(Libc.Name)]
    private static partial int getgrgid_r(uint gid, Group* grp, byte* buffer, nuint bufferLength, Group** result);

    [LibraryImport(Libc.Name, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int getgrnam_r(string name, Group* grp, byte* buffer, nuint bufferLength, Group** result);

    [LibraryImport(Libc.Name)]
    internal static partial uint geteuid();

    /// <summary>The name of user <paramref name="uid"/>: 0 and a name, 0 and null when there is no such user, or an errno.</summary>
    internal static int TryGetUserName(uint uid, out string? name)
    {
        string? found = null;
        var errno = WithBuffer((buffer, length) =>
        {
            Passwd pwd;
            Passwd* result;
            var rc = getpwuid_r(uid, &pwd, buffer, length, &result);
            if (rc == 0 && result != null)
            {
                found = Utf8(pwd.Name);
            }
            return rc;
        });
        name = found;
        return errno;
    }

    /// <summary>The uid of user <paramref name="name"/>: 0 and the uid, 0 and null when there is no such user, or an errno.</summary>
    internal static int TryGetUserId(string name, out uint? uid)
    {
        uint? found = null;
        var errno = WithBuffer((buffer, length) =>
        {
            Passwd pwd;
            Passwd* result;
            var rc = getpwnam_r(name, &pwd, buffer, length, &result);
            if (rc == 0 && result != null)
            {
                found = pwd.Uid;
            }
            return rc;
        });
        uid = found;
        return errno;
    }

    /// <summary>The name of group <paramref name="gid"/>: 0 and a name, 0 and null when there is no such group, or an errno.</summary>
    internal static int TryGetGroupName(uint gid, out string? name)
    {
        string? found = null;
        var errno = WithBuffer((buffer, length) =>
        {
            Group grp;
            Group* result;
            var rc = getgrgid_r(gid, &grp, buffer, length, &result);
            if (rc == 0 && result != null)
            {
                found = Utf8(grp.Name);
            }
            return rc;
        });
        name = found;
        return errno;
    }

    /// <summary>The gid of group <paramref name="name"/>: 0 and the gid, 0 and null when there is no such group, or an errno.</summary>
    internal static int TryGetGroupId(string name, out uint? gid)
    {
        uint? found = null;
        var errno = WithBuffer((buffer, length) =>
        {
            Group grp;
            Group* result;
            var rc = getgrnam_r(name, &grp, buffer, length, &result);
            if (rc == 0 && result != null)
            {
                found = grp.Gid;
            }
            return rc;
        });
        gid = found;
        return errno;
    }

    private delegate int Lookup(byte* buffer, nuint length);

    // The *_r calls return the errno (not -1); ERANGE means the entry needs a bigger buffer
    // (a group with many members can). "Not found" is 0 with a null result.
    private static int WithBuffer(Lookup lookup)
    {
        for (var size = InitialBufferSize; ; size *= 2)
        {
            var buffer = NativeMemory.Alloc((nuint)size);
            try
            {
                var rc = lookup((byte*)buffer, (nuint)size);
                if (rc != ERANGE || size >= MaxBufferSize)
                {
                    return rc;
                }
            }
            finally
            {
                NativeMemory.Free(buffer);
            }
        }
    }

    private static string? Utf8(byte* text) => text == null ? null : Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text));
}

/// <summary><c>struct passwd</c> (LP64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Passwd
{
    public byte* Name;
    public byte* Password;
    public uint Uid;
    public uint Gid;
    public byte* Gecos;
    public byte* Directory;
    public byte* Shell;
}

/// <summary><c>struct group</c> (LP64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Group
{
    public byte* Name;
    public byte* Password;
    public uint Gid;
    public byte** Members;
}
