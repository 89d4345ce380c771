using Transport.UnixNative.Bench.Drivers;

namespace Transport.UnixNative.Bench.Macro.Measures;

/// <summary>New connection per request with our own driver; CPU per 100k connections.</summary>
internal sealed class ChurnMeasure : IMeasure
{
    public async Task<Measurement> MeasureAsync(MeasureContext context)
    {
        var (scenario, ct) = (context.Scenario, context.CancellationToken);
        if (context.Options.Warmup > TimeSpan.Zero)
        {
            await ChurnDriver.RunAsync(context.Target, scenario.Path, scenario.Connections, context.Options.Warmup, ct).ConfigureAwait(false);
        }
        var window = context.StartWindow();
        var run = await ChurnDriver.RunAsync(context.Target, scenario.Path, scenario.Connections, context.Options.Duration, ct).ConfigureAwait(false);
        var cost = context.EndWindow(window);
        return context.Result(
            run.Completed / run.Seconds,
            run.Latency.P50Us,
            run.Latency.P99Us,
            // Per completed connection: a failed one costs the server little and must not make it look cheaper.
            cost.CpuPer100k(run.Completed),
            run.Completed,
            run.Seconds,
            run.Errors,
            run.FirstError);
    }
}
