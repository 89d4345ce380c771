using System.Globalization;
using Transport.UnixNative.Bench.Macro;

namespace Transport.UnixNative.Bench.Report;

/// <summary>How numbers read in the table, the chart and the progress lines (invariant culture).</summary>
internal static class Format
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Value(double value, MetricUnit unit) => unit == MetricUnit.KiBPerConnection
        ? string.Format(Invariant, "{0:F1} {1}", value, unit.Name)
        : string.Format(Invariant, "{0:N0} {1}", value, unit.Name);

    /// <summary>min–max in the value's unit, compact: "70.1k–74.0k", "3,380–3,512", "9.8–10.3".</summary>
    public static string Spread((double Min, double Max) spread, MetricUnit unit) => unit == MetricUnit.KiBPerConnection
        ? string.Format(Invariant, "{0:F1}–{1:F1}", spread.Min, spread.Max)
        : $"{Compact(spread.Min)}–{Compact(spread.Max)}";

    public static string CpuSpread((double Min, double Max)? spread) => spread is { } s ? string.Format(Invariant, "{0:F2}–{1:F2}", s.Min, s.Max) : "";

    private static string Compact(double value) => value >= 10_000
        ? string.Format(Invariant, "{0:F1}k", value / 1000)
        : string.Format(Invariant, "{0:N0}", value);

    public static string Latency(double microseconds) => microseconds < 1000
        ? string.Format(Invariant, "{0:F0} µs", microseconds)
        : string.Format(Invariant, "{0:F2} ms", microseconds / 1000);

    public static string Cpu(double? secondsPer100k) => secondsPer100k is { } s && double.IsFinite(s) ? s.ToString("F2", Invariant) : "–";

    public static string Rss(double kib) => string.Format(Invariant, "{0:F0} MiB", kib / 1024);

    public static string Ratio(double? ratio) => ratio is { } r && double.IsFinite(r) ? string.Format(Invariant, "{0:F2}×", r) : "";

    public static string Share(double? fraction) => fraction is { } f && double.IsFinite(f) ? string.Format(Invariant, "{0:F0}%", f * 100) : "–";

    public static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.##", Invariant);
}
