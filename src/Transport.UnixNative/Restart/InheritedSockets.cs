using Microsoft.Extensions.Logging;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Restart;

/// <summary>
/// The listening sockets this process starts with instead of binding: systemd's, and a predecessor's
/// when hand-over is on. Endpoints naming the same address (or an fd name) use them.
/// </summary>
internal sealed class InheritedSockets
{
    private InheritedSockets(IReadOnlyList<InheritedListener> sockets, HandoverSession? predecessor)
    {
        All = sockets;
        Predecessor = predecessor;
    }

    public IReadOnlyList<InheritedListener> All { get; }

    /// <summary>The open hand-over with the predecessor, told to stop once this process serves.</summary>
    public HandoverSession? Predecessor { get; }

    public static InheritedSockets Gather(UnixNativeTransportOptions options, ILogger logger)
    {
        var systemd = SystemdActivation.Sockets;
        foreach (var socket in systemd.Sockets)
        {
            TransportLog.ActivatedSocket(logger, socket.Address.DisplayName, socket.Fd.Fd, socket.FdName);
        }
        foreach (var (fd, name) in systemd.Ignored)
        {
            TransportLog.ActivatedSocketIgnored(logger, fd, name);
        }
        var predecessor = options.HandoverSocketPath is { } path ? HandoverSession.TryOpen(path, logger) : null;
        // A predecessor's sockets first: they are the live ones.
        return new InheritedSockets([.. predecessor?.Sockets ?? [], .. systemd.Sockets], predecessor);
    }

    /// <summary>The inherited socket bound to <paramref name="address"/> (same path or name, same type), if any.</summary>
    public InheritedListener? Find(UnixSocketAddress address)
        => All.FirstOrDefault(s => s.Address.Name == address.Name && s.Address.IsAbstract == address.IsAbstract && s.Address.IsSeqpacket == address.IsSeqpacket);

    /// <summary>The activated socket named <paramref name="fdName"/>; a clear error when there is none or several.</summary>
    public InheritedListener FindByName(string fdName)
    {
        var matches = All.Where(s => s.FdName == fdName).ToArray();
        return matches.Length switch
        {
            1 => matches[0],
            0 => throw new InvalidOperationException(All.Count == 0
                ? $"No activated socket has fd name '{fdName}': this process was not socket-activated (LISTEN_FDS is not set for it)."
                : $"No activated socket has fd name '{fdName}'; the names are: {string.Join(", ", All.Select(s => $"'{s.FdName}' ({s.Address.DisplayName})"))}."),
            _ => throw new InvalidOperationException(
                $"{matches.Length} activated sockets have fd name '{fdName}' ({string.Join(", ", matches.Select(s => s.Address.DisplayName))}); give each its own FileDescriptorName=."),
        };
    }

    /// <summary>The <c>urls</c> that serve every inherited socket (they replace the configured ones).</summary>
    public IEnumerable<string> Urls => All.Select(s => s.Address.IsSeqpacket ? "http://unix-seqpacket:" + s.Address.DisplayName : "http://unix:" + s.Address.DisplayName).Distinct();
}
