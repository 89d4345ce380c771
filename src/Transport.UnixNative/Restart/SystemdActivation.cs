using System.Globalization;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Restart;

/// <summary>
/// systemd's socket-activation protocol (sd_listen_fds): <c>LISTEN_PID</c> names the process the
/// descriptors 3… are for, <c>LISTEN_FDS</c> how many, <c>LISTEN_FDNAMES</c> their names.
/// </summary>
internal static class SystemdActivation
{
    internal const int FirstFd = 3; // SD_LISTEN_FDS_START
    internal const string UnnamedFd = "unknown"; // what sd_listen_fds_with_names reports without names

    // The environment describes them once per process: taking them unsets the variables.
    private static readonly Lazy<Result> s_taken = new(() => Take(Environment.GetEnvironmentVariable, ProcessEnvironment.Remove, Environment.ProcessId));

    internal sealed record Result(IReadOnlyList<InheritedListener> Sockets, IReadOnlyList<(int Fd, string FdName)> Ignored);

    /// <summary>The unix listening sockets systemd passed to this process (empty when it was not socket-activated).</summary>
    internal static Result Sockets => s_taken.Value;

    /// <summary>Takes the sockets described by the variables (tests pass their own environment and first descriptor).</summary>
    internal static Result Take(Func<string, string?> getVariable, Action<string> removeVariable, int processId, int firstFd = FirstFd)
    {
        if (!int.TryParse(getVariable("LISTEN_PID"), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid != processId
            || !int.TryParse(getVariable("LISTEN_FDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count <= 0)
        {
            return new([], []);
        }
        var names = (getVariable("LISTEN_FDNAMES") ?? "").Split(':');
        // Children (a shell-out, a helper) must neither see the variables nor inherit the descriptors.
        foreach (var variable in new[] { "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES" })
        {
            removeVariable(variable);
        }

        var sockets = new List<InheritedListener>();
        var ignored = new List<(int, string)>();
        for (var i = 0; i < count; i++)
        {
            var fd = firstFd + i;
            var name = i < names.Length && names[i].Length > 0 ? names[i] : UnnamedFd;
            var flags = Libc.fcntl_raw(fd, Libc.F_GETFD, 0);
            if (flags < 0)
            {
                continue; // not open: nothing to take
            }
            _ = Libc.fcntl_raw(fd, Libc.F_SETFD, flags | Libc.FD_CLOEXEC);
            if (InheritedSocket.TryGetAddress(fd, out var address))
            {
                sockets.Add(new InheritedListener(name, address, new SafeFdHandle(fd), null, InheritedFrom.Systemd));
            }
            else if (InheritedSocket.IsConnectedStream(fd))
            {
                // One instance per connection cannot be a Kestrel listener; binding a default socket instead would leave this client hanging.
                throw new InvalidOperationException(
                    $"Socket activation: fd {fd} (fd name '{name}') is a connected socket (inetd style: Accept=yes or --accept), not a listening one; this server accepts its own connections: use Accept=no.");
            }
            else
            {
                ignored.Add((fd, name));
            }
        }
        return new(sockets, ignored);
    }
}
