using System.Diagnostics.Metrics;

namespace Transport.UnixNative.Core.Diagnostics;

/// <summary>
/// The instruments of the <c>Transport.UnixNative</c> meter, one set per host (from its
/// <see cref="IMeterFactory"/>). Hot paths go through <see cref="ListenerMetrics"/> and
/// <see cref="EventLoopMetrics"/>, which hold tag lists built once, so recording allocates nothing.
/// </summary>
internal sealed class UnixNativeMetrics
{
    public const string MeterName = "Transport.UnixNative";

    public UnixNativeMetrics(IMeterFactory? meterFactory)
    {
        // Without a factory (the transport built by hand) the meter is still visible to listeners.
        var meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        AcceptedConnections = meter.CreateCounter<long>("unixnative.accepted_connections", "{connection}",
            "Connections accepted and handed to Kestrel.");
        RefusedConnections = meter.CreateCounter<long>("unixnative.refused_connections", "{connection}",
            "Connections closed right after accept: by the peer allowlist, or because of an error.");
        AcceptErrors = meter.CreateCounter<long>("unixnative.accept_errors", "{error}",
            "Accepts that failed or were put off for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM); the connections wait in the backlog.");
        ActiveConnections = meter.CreateUpDownCounter<long>("unixnative.active_connections", "{connection}",
            "Connections open now.");
        Io = meter.CreateCounter<long>("unixnative.io", "By",
            "Bytes received from and sent to peers.");
        Sends = meter.CreateCounter<long>("unixnative.sends", "{send}",
            "Send attempts by where they ran: inline (I/O thread), queued (the loop's thread-pool send queue), waiting (socket full, waiting for writability).");
        EventsPerWait = meter.CreateHistogram<int>("unixnative.eventloop.events", "{event}",
            "Events returned by one epoll_wait.", advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256] });
        Wakeups = meter.CreateCounter<long>("unixnative.eventloop.wakeups", "{wakeup}",
            "eventfd writes that woke a blocked I/O thread for scheduled work.");
    }

    public Counter<long> AcceptedConnections { get; }

    public Counter<long> RefusedConnections { get; }

    public Counter<long> AcceptErrors { get; }

    public UpDownCounter<long> ActiveConnections { get; }

    public Counter<long> Io { get; }

    public Counter<long> Sends { get; }

    public Histogram<int> EventsPerWait { get; }

    public Counter<long> Wakeups { get; }
}
