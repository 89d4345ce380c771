namespace Transport.UnixNative.Bench.Common;

/// <summary>The statistics every report uses, in one place so the tables agree.</summary>
internal static class Statistics
{
    /// <summary>The median of the finite values present (mean of the middle two for an even count), or null if none.</summary>
    public static double? Median(IEnumerable<double?> values)
    {
        var sorted = values.Where(v => v is { } d && double.IsFinite(d)).Select(v => v!.Value).Order().ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <inheritdoc cref="Median(IEnumerable{double?})"/>
    public static double? Median(IEnumerable<double> values) => Median(values.Select(v => (double?)v));
}
