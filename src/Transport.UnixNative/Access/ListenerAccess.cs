using Microsoft.Extensions.Logging;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Access;

/// <summary>The access options (allowlists, abstract-address default, socket-file permissions) as the listeners ask for them.</summary>
internal sealed class ListenerAccess(UnixNativeTransportOptions options) : IListenerAccess
{
    public void PrepareSocketFile(UnixSocketAddress address, SocketFile.FileIdentity? bound, ILogger logger)
        => SocketFilePermissions.Apply(address, bound, options, logger);

    public IPeerAdmission? AdmissionFor(UnixSocketAddress? address) => PeerAccess.From(options, address);

    public IPeerAdmission? AdmissionForConnected() => PeerAccess.ForConnected(options);
}
