
namespace Transport.UnixNative.Stress.Reliability;

/// <summary>What a check gets: the sample to start, the counts, where its rows go.</summary>
internal sealed record CheckContext(string SampleDll, ReliabilityOptions Options, IReadOnlyList<Target> Targets, ReliabilityReport Report, TextWriter Log, CancellationToken CancellationToken)
{
    public void Progress(string text) => Log.WriteLine($"  {DateTime.UtcNow:HH:mm:ss} {text}");

    /// <summary>The targets in the order to run them: alternated from one check to the next so neither always goes first.</summary>
    public IReadOnlyList<Target> Order(int checkIndex) => checkIndex % 2 == 0 ? Targets : Targets.Reverse().ToArray();
}

/// <summary>One part of the suite; adds its rows to the report.</summary>
internal interface IReliabilityCheck
{
    string Name { get; }

    Task RunAsync(CheckContext context, int index);
}

internal static class Addresses
{
    public static ServerAddress Stream() => ServerAddress.Fresh(AddressKind.UnixStream);

    public static ServerAddress Seqpacket() => ServerAddress.Fresh(AddressKind.UnixSeqpacket);
}
