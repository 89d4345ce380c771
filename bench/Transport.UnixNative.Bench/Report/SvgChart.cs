using System.Globalization;
using System.Security;
using System.Text;
using Transport.UnixNative.Bench.Macro;

namespace Transport.UnixNative.Bench.Report;

/// <summary>
/// A self-contained SVG bar chart of the summary: per scenario, one bar per transport for the
/// headline number (left) and the server's CPU per 100k requests (right). Scenarios have
/// different units, so every group is scaled to its own largest bar and labelled with values.
/// It shows the per-core rows when the run has them (the headline), else the shared ones.
/// </summary>
internal static class SvgChart
{
    private const int Width = 1100;
    private const int LabelX = 16;
    private const int ValueX = 230;
    private const int ValueLength = 260;
    private const int CpuX = 720;
    private const int CpuLength = 170;
    private const int GroupTitleHeight = 24;
    private const int BarRowHeight = 20;
    private const int BarHeight = 14;
    private const int GroupGap = 12;
    private const int Top = 118;

    private static readonly Dictionary<string, string> Colors = new()
    {
        [TransportVariant.Native.Id] = "#2b6cb0",
        [TransportVariant.Seqpacket.Id] = "#38a169",
        [TransportVariant.Sockets.Id] = "#dd6b20",
        [TransportVariant.Tcp.Id] = "#a0aec0",
        [TransportVariant.Nginx.Id] = "#805ad5",
    };

    public static string Write(RunInfo info, IReadOnlyList<SummaryRow> rows)
    {
        var perCore = rows.Any(r => r.Scenario.Pinned);
        rows = rows.Where(r => r.Scenario.Pinned == perCore).ToArray();
        var groups = rows.GroupBy(r => r.Scenario.Id).ToArray();
        var height = Top + groups.Sum(g => GroupTitleHeight + g.Count() * BarRowHeight + GroupGap) + 40;
        var svg = new StringBuilder();
        svg.AppendLine(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"12\">"));
        svg.AppendLine(Invariant($"<rect width=\"{Width}\" height=\"{height}\" fill=\"white\"/>"));
        Text(svg, LabelX, 28, perCore
            ? $"Per core: Transport.UnixNative vs Kestrel's Sockets transport and nginx, server alone on core {CorePinning.ServerCore}"
            : "Transport.UnixNative vs Kestrel's Sockets transport and nginx (server and load share the cores)", "font-size=\"18\" font-weight=\"bold\"");
        Text(svg, LabelX, 48, perCore
            ? $"{info.Cpu}; server under taskset -c {CorePinning.ServerCore}, h2load on core {CorePinning.LoadCore}; median of {info.Rounds} round(s) × {info.DurationSeconds:0.##} s after tiering; commit {info.Commit}"
            : $"{info.Cores} cores, {info.Cpu}; median of {info.Rounds} round(s) (headline) / {info.OtherRounds} (others) × {info.DurationSeconds:0.##} s; h2load and own drivers; commit {info.Commit}", "fill=\"#4a5568\"");

        var legendX = LabelX;
        foreach (var variant in TransportVariant.All.Where(v => rows.Any(r => r.Variant == v)))
        {
            svg.AppendLine(Invariant($"<rect x=\"{legendX}\" y=\"62\" width=\"12\" height=\"12\" fill=\"{Colors[variant.Id]}\"/>"));
            Text(svg, legendX + 16, 73, variant.Label, "");
            legendX += 30 + (int)(variant.Label.Length * 7.2);
        }
        Text(svg, ValueX, Top - 14, "throughput (longer is better, except KiB/conn)", "font-weight=\"bold\"");
        Text(svg, CpuX, Top - 14, "server CPU-s per 100k requests (shorter is better)", "font-weight=\"bold\"");

        var y = Top;
        foreach (var group in groups)
        {
            var scenario = group.First().Scenario;
            Text(svg, LabelX, y + 16, scenario.FullTitle, "font-weight=\"bold\" font-size=\"13\"");
            y += GroupTitleHeight;
            var maxValue = group.Max(r => r.Value);
            var maxCpu = group.Max(r => r.CpuSecondsPer100k ?? 0);
            foreach (var row in group)
            {
                var color = Colors[row.Variant.Id];
                Text(svg, LabelX + 12, y + 12, row.Variant.Label, "");
                Bar(svg, ValueX, y, ValueLength, row.Value, maxValue, color,
                    Format.Value(row.Value, scenario.Unit) + Suffix(row.ValueRatio, scenario) + (row.ServerErrorLogs > 0 ? "  ⚠" : ""));
                if (row.CpuSecondsPer100k is { } cpu && double.IsFinite(cpu))
                {
                    Bar(svg, CpuX, y, CpuLength, cpu, maxCpu, color, Format.Cpu(cpu) + Suffix(row.CpuRatio, scenario));
                }
                y += BarRowHeight;
            }
            y += GroupGap;
        }
        if (rows.Any(r => r.ServerErrorLogs > 0))
        {
            Text(svg, LabelX, y + 12, "⚠ the server logged Error/Critical entries during that measurement (listed in the .md report)", "fill=\"#c53030\"");
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static string Suffix(double? ratio, Scenario scenario) => ratio is null ? "" : $"  ({Format.Ratio(ratio)} {scenario.BaselineName})";

    private static void Bar(StringBuilder svg, int x, int y, int fullLength, double value, double max, string color, string label)
    {
        var length = max > 0 ? Math.Max(1, fullLength * value / max) : 1;
        svg.AppendLine(Invariant($"<rect x=\"{x}\" y=\"{y + (BarRowHeight - BarHeight) / 2}\" width=\"{length:F1}\" height=\"{BarHeight}\" fill=\"{color}\"/>"));
        Text(svg, x + length + 6, y + 14, label, "fill=\"#1a202c\"");
    }

    private static void Text(StringBuilder svg, double x, double y, string text, string attributes)
        => svg.AppendLine(Invariant($"<text x=\"{x:F1}\" y=\"{y:F1}\" {attributes}>{SecurityElement.Escape(text)}</text>"));

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
