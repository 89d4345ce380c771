namespace Transport.UnixNative;

// Which endpoints take descriptors a peer passes (SCM_RIGHTS), and how many may be held.
public sealed partial class UnixNativeTransportOptions
{
    /// <summary>The largest default of <see cref="MaxReceivedDescriptors"/>, whatever <c>RLIMIT_NOFILE</c> allows.</summary>
    internal const int MaxReceivedDescriptorsDefaultCap = 4096;

    /// <summary>
    /// Endpoints whose connections receive descriptors a peer passes (SCM_RIGHTS), by address as written:
    /// an absolute path (<c>/run/app/app.sock</c>) or <c>@name</c>; stream and seqpacket sockets on that
    /// address alike, bound or inherited. Configuration fills it from <c>ReceiveDescriptors: true</c> beside
    /// a unix <c>Url</c> under <c>Kestrel:Endpoints:NAME</c>.
    /// </summary>
    /// <remarks>
    /// Defaults to empty: no endpoint receives descriptors. There every receive offers the kernel no room
    /// for them, so it closes whatever a peer attaches (as nginx and Kestrel's Sockets transport do) and the
    /// bytes are served as if none came; <see cref="IUnixFileDescriptorsFeature"/> is absent and
    /// <see cref="IUnixMessageFeature"/> hands out none. Connected sockets (<c>ListenConnectedHandle</c>) never receive any.
    /// </remarks>
    public ISet<string> ReceiveDescriptorsOn { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// The most received descriptors the process holds at once, across all connections of all endpoints:
    /// those waiting for a request or message to take them. Each receive offers the kernel room for no more
    /// than what is left, so the kernel closes the excess and the table never grows past it; a peer whose
    /// descriptors do not fit loses its connection (event 102), while every other client carries on. A
    /// descriptor handed to the application (<c>TakeAll</c>, <c>ReceiveAsync(list)</c>) leaves the budget:
    /// it is the application's from then on.
    /// </summary>
    /// <remarks>
    /// Defaults to a quarter of the soft <c>RLIMIT_NOFILE</c> when the options are made, at most 4096 (256
    /// under the usual 1024). Must be between 1 and half of <c>RLIMIT_NOFILE</c>, so connections and the
    /// spare descriptors the accept path keeps for the runtime always have room.
    /// </remarks>
    public int MaxReceivedDescriptors { get; set; } = DefaultMaxReceivedDescriptors();

    /// <summary>
    /// The most received descriptors one connection may hold (not yet taken by a request or message), on
    /// stream and seqpacket (HTTP and message) endpoints alike. A peer sending more loses its connection (event 101).
    /// </summary>
    /// <remarks>Defaults to 1024. Must be at least 1; only <see cref="MaxReceivedDescriptors"/> in total are ever held.</remarks>
    public int MaxReceivedDescriptorsPerConnection { get; set; } = 1024;

    /// <summary>
    /// The most received descriptors the connections of one peer user (its <c>SO_PEERCRED</c> uid; peers whose
    /// credentials are unknown count as one user) hold at once, across all endpoints: one local user with a few
    /// connections cannot take the whole <see cref="MaxReceivedDescriptors"/> and cut every other user's
    /// descriptor senders. A peer whose descriptors do not fit loses its connection (event 104).
    /// </summary>
    /// <remarks>Defaults to half of MaxReceivedDescriptors. Must be between 1 and <see cref="MaxReceivedDescriptors"/>.</remarks>
    public int? MaxReceivedDescriptorsPerUser { get; set; }

    /// <summary>The per-user share in effect: the option, or half of the budget (at least 1).</summary>
    internal int EffectiveMaxReceivedDescriptorsPerUser => MaxReceivedDescriptorsPerUser ?? Math.Max(1, MaxReceivedDescriptors / 2);

    internal static int DefaultMaxReceivedDescriptors()
        => Math.Clamp(Interop.ResourceLimit.OpenFilesLimit() / 4, 1, MaxReceivedDescriptorsDefaultCap);
}
