namespace Transport.UnixNative.Bench.Macro;

/// <summary>A scenario on a transport that was skipped or failed, and why.</summary>
internal sealed record Outcome(string Scenario, string Transport, int Round, string Reason);

/// <summary>Everything one invocation measured, skipped or failed.</summary>
internal sealed class BenchRun
{
    public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;

    public DateTimeOffset Finished { get; set; }

    public List<Measurement> Measurements { get; } = [];

    public List<Outcome> Skipped { get; } = [];

    public List<Outcome> Failures { get; } = [];

    /// <summary>What the run left out and why (e.g. the per-core table on a 1-core machine).</summary>
    public List<string> Notes { get; } = [];
}
