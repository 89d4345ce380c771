namespace Transport.UnixNative.Bench.Report;

/// <summary>
/// <c>--publish</c>: replaces the "Latest full run" section of docs/benchmarks.md (from its heading
/// to the next "## " heading or the end of the file) with this run's table, and docs/bench-latest.svg
/// with its chart.
/// </summary>
internal static class DocsPage
{
    private const string Heading = "### Latest full run";

    public static void Publish(string root, string markdown, string svgPath)
    {
        var page = Path.Combine(root, "docs", "benchmarks.md");
        var text = File.ReadAllText(page);
        var at = text.IndexOf(Heading, StringComparison.Ordinal);
        if (at < 0)
        {
            throw new IOException($"{page} has no '{Heading}' section to replace");
        }
        // The section ends at the next heading of a higher level ("## …"), or at the end of the page.
        var next = text.IndexOf("\n## ", at, StringComparison.Ordinal);
        var rest = next < 0 ? "" : "\n" + text[(next + 1)..];
        var section = $"{Heading}\n\n![bar chart of the run below](bench-latest.svg)\n\n{markdown.TrimEnd()}\n";
        File.WriteAllText(page, text[..at] + section + rest);
        File.Copy(svgPath, Path.Combine(root, "docs", "bench-latest.svg"), overwrite: true);
    }
}
