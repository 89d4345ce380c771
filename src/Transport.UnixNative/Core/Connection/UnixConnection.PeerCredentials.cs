using System.Collections.ObjectModel;
using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Diagnostics;

namespace Transport.UnixNative.Core.Connection;

/// <summary>
/// <see cref="IUnixPeerCredentialsFeature"/>, answered by the connection itself from fields (no
/// object of its own per connection). The lazy parts ask the kernel through the connection's own
/// handle, holding a reference so the descriptor cannot be closed and its number reused mid-call.
/// </summary>
internal sealed partial class UnixConnection : IUnixPeerCredentialsFeature, IPeerIdentitySlot
{
    private PeerCredentials _peerCredentials;
    private bool _hasPeerCredentials; // false: the kernel could not tell, and there is no such feature

    // Read-only: the list is shared by every request on the connection (and by connections with identical credentials).
    private IReadOnlyList<uint>? _supplementaryGroups;

    private LabelCache? _securityLabel;

    private object? _identity;

    /// <summary>The peer as of connect(2), and its groups if the allowlist already read them; before <see cref="Start"/>.</summary>
    public void SetPeerCredentials(PeerCredentials credentials, uint[]? supplementaryGroups)
    {
        _peerCredentials = credentials;
        _hasPeerCredentials = true;
        _heldDescriptors?.SetUser(credentials.UserId); // its received descriptors count against this user's share
        _supplementaryGroups = supplementaryGroups is null ? null : Array.AsReadOnly(supplementaryGroups);
        _featureRevision++;
    }

    object? IPeerIdentitySlot.Identity
    {
        get => Volatile.Read(ref _identity);
        set => Volatile.Write(ref _identity, value);
    }

    void IPeerIdentitySlot.ShareSupplementaryGroups(IReadOnlyList<uint> groups) => Volatile.Write(ref _supplementaryGroups, groups);

    int IUnixPeerCredentialsFeature.ProcessId => _peerCredentials.ProcessId;

    uint IUnixPeerCredentialsFeature.UserId => _peerCredentials.UserId;

    uint IUnixPeerCredentialsFeature.GroupId => _peerCredentials.GroupId;

    string? IUnixPeerCredentialsFeature.SecurityLabel
    {
        get
        {
            if (Volatile.Read(ref _securityLabel) is { } cached)
            {
                return cached.Label;
            }
            byte[] raw = [];
            var errno = WithPeerSocket(fd => Interop.Socket.GetPeerSecurityLabel(fd, out raw));
            string? label = errno switch
            {
                0 => PeerSecurityLabel.Parse(raw),
                // No LSM labels sockets here (or none is stacked that does): the documented "no label".
                Interop.Socket.ENOPROTOOPT or Libc.EINVAL => null,
                _ => throw NativeError.Exception("getsockopt(SO_PEERSEC)", errno),
            };
            Interlocked.CompareExchange(ref _securityLabel, new LabelCache(label), null);
            return _securityLabel!.Label;
        }
    }

    private sealed record LabelCache(string? Label);

    IReadOnlyList<uint> IUnixPeerCredentialsFeature.GetSupplementaryGroupIds()
    {
        if (Volatile.Read(ref _supplementaryGroups) is { } cached)
        {
            return cached;
        }
        uint[] groups = [];
        var errno = WithPeerSocket(fd => Interop.Socket.GetPeerGroups(fd, out groups));
        if (errno != 0)
        {
            throw NativeError.Exception("getsockopt(SO_PEERGROUPS)", errno);
        }
        Interlocked.CompareExchange(ref _supplementaryGroups, Array.AsReadOnly(groups), null);
        return _supplementaryGroups!;
    }

    SafeHandle? IUnixPeerCredentialsFeature.OpenPidFd()
    {
        SafeFdHandle? pidFd = null;
        var errno = WithPeerSocket(fd => Interop.Socket.GetPeerPidFd(fd, out pidFd));
        switch (errno)
        {
            case 0:
                return pidFd;
            // Kernels before 6.5 lack the option; some refuse a peer that has exited or lives in another pid namespace.
            case Interop.Socket.ENOPROTOOPT:
            case Libc.EINVAL:
            case Interop.Socket.ESRCH:
                pidFd?.Dispose();
                return null;
            default:
                pidFd?.Dispose();
                throw NativeError.Exception("getsockopt(SO_PEERPIDFD)", errno);
        }
    }

    private int WithPeerSocket(Func<int, int> call)
    {
        var added = false;
        try
        {
            _fd.DangerousAddRef(ref added); // throws ObjectDisposedException once the connection is closed
            return call(_fd.Fd);
        }
        finally
        {
            if (added)
            {
                _fd.DangerousRelease();
            }
        }
    }
}
