using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Access;

/// <summary>
/// Gives a freshly bound socket file its owner, group and mode (<see cref="UnixNativeTransportOptions.SocketFileMode"/> …).
/// Called between bind(2) and listen(2): until listen, a connect gets ECONNREFUSED, so nobody gets
/// in while the file still has the umask's permissions.
/// </summary>
internal static class SocketFilePermissions
{
    private const int PermissionBits = 0x1FF; // 0777

    public static void Apply(UnixSocketAddress address, SocketFile.FileIdentity? bound, UnixNativeTransportOptions options, ILogger logger)
    {
        // An endpoint's own settings (SocketFiles[path]) win over the transport-wide ones, field by field.
        var perFile = !address.IsAbstract && options.SocketFiles.TryGetValue(address.Name, out var own) ? own : null;
        var modeOption = perFile?.Mode ?? options.SocketFileMode;
        var groupOption = perFile?.Group ?? options.SocketFileGroup;
        var ownerOption = perFile?.Owner ?? options.SocketFileOwner;
        if (modeOption is null && groupOption is null && ownerOption is null)
        {
            return;
        }
        if (address.IsAbstract)
        {
            TransportLog.SocketFileOptionsIgnored(logger, address.DisplayName);
            return;
        }
        var path = address.Name;
        var mode = modeOption is { } m ? (int)m : (int?)null;
        if (mode is { } bits && (bits & ~PermissionBits) != 0)
        {
            throw new ArgumentException(
                $"Cannot set the mode of unix socket '{path}': SocketFileMode {Octal(bits)} has bits other than permissions (0777). A socket needs only read/write bits, e.g. 0660.");
        }
        var uid = ownerOption is { } owner ? ResolveUser(owner, path) : (uint?)null;
        var gid = groupOption is { } group ? ResolveGroup(group, path) : (uint?)null;

        // Work through an O_PATH descriptor pinned to the inode we bound: a path that is swapped
        // for a symbolic link meanwhile cannot redirect chmod/chown to another file.
        using var file = FileSystem.OpenPath(path);
        if (file.IsInvalid)
        {
            throw NativeError.Exception("Cannot open unix socket file to set its permissions", path, Libc.LastErrno);
        }
        var errno = FileSystem.TryGetStatus(file, out var status);
        if (errno != 0)
        {
            throw NativeError.Exception("Cannot inspect unix socket file", path, errno);
        }
        if (!status.IsSocket || bound is not { } identity || new SocketFile.FileIdentity(status.DevMajor, status.DevMinor, status.Inode) != identity)
        {
            throw new IOException($"Cannot set the permissions of unix socket '{path}': the file was replaced right after bind. Is the directory writable by others?");
        }

        if (uid is not null || gid is not null)
        {
            // uint.MaxValue is (uid_t)-1: leave that id unchanged.
            if (FileSystem.fchownat(file, "", uid ?? uint.MaxValue, gid ?? uint.MaxValue, FileSystem.AT_EMPTY_PATH) != 0)
            {
                errno = Libc.LastErrno;
                var what = (ownerOption, groupOption) switch
                {
                    ({ } o, { } g) => $"owner '{o}' (uid {uid}) and group '{g}' (gid {gid})",
                    ({ } o, null) => $"owner '{o}' (uid {uid})",
                    _ => $"group '{groupOption}' (gid {gid})",
                };
                var hint = errno == Libc.EPERM
                    ? uid is not null
                        ? " Changing the owner needs root (CAP_CHOWN)."
                        : " A process that is not root (CAP_CHOWN) may only choose a group it is a member of."
                    : "";
                throw new IOException($"Cannot give unix socket '{path}' {what}: {Libc.Describe(errno)}.{hint}", Libc.SocketException(errno));
            }
        }
        if (mode is { } newMode)
        {
            // chmod has no "don't follow" form on older libcs; /proc/self/fd/N names exactly the pinned inode.
            if (FileSystem.chmod($"/proc/self/fd/{file.Fd}", (uint)newMode) != 0)
            {
                errno = Libc.LastErrno;
                throw new IOException($"Cannot set the mode of unix socket '{path}' to {Octal(newMode)}: {Libc.Describe(errno)} (through /proc/self/fd; is /proc mounted?).", Libc.SocketException(errno));
            }
        }
        if (FileSystem.TryGetStatus(file, out status) == 0)
        {
            TransportLog.SocketFilePermissionsSet(logger, path, Octal(status.Mode & PermissionBits), status.Uid, status.Gid);
        }
    }

    private static uint ResolveUser(string owner, string path)
    {
        var errno = Users.TryGetUserId(owner, out var uid);
        if (uid is { } found)
        {
            return found;
        }
        if (uint.TryParse(owner, out var numeric))
        {
            return numeric;
        }
        throw errno != 0
            ? new IOException($"Cannot set the owner of unix socket '{path}' to '{owner}': looking up the user failed: {Libc.Describe(errno)}.", Libc.SocketException(errno))
            : new IOException($"Cannot set the owner of unix socket '{path}' to '{owner}': no such user (give a user name or a numeric uid).");
    }

    private static uint ResolveGroup(string group, string path)
    {
        var errno = Users.TryGetGroupId(group, out var gid);
        if (gid is { } found)
        {
            return found;
        }
        if (uint.TryParse(group, out var numeric))
        {
            return numeric;
        }
        throw errno != 0
            ? new IOException($"Cannot set the group of unix socket '{path}' to '{group}': looking up the group failed: {Libc.Describe(errno)}.", Libc.SocketException(errno))
            : new IOException($"Cannot set the group of unix socket '{path}' to '{group}': no such group (give a group name or a numeric gid).");
    }

    private static string Octal(int mode) => "0" + Convert.ToString(mode, 8);
}
