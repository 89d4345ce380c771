using System.Globalization;
using System.Text.RegularExpressions;

namespace Transport.UnixNative.Bench.Macro;

/// <summary>The summary h2load prints at the end of a run.</summary>
internal sealed record H2LoadOutput(
    double Seconds,
    double RequestsPerSecond,
    long Succeeded,
    long Failed,
    long Errored,
    long TimedOut,
    long Status2xx,
    long StatusOther,
    long TotalBytes,
    long DataBytes)
{
    private static readonly Regex Finished = new(@"^finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", RegexOptions.Multiline | RegexOptions.CultureInvariant);
    private static readonly Regex Requests = new(@"^requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", RegexOptions.Multiline | RegexOptions.CultureInvariant);
    private static readonly Regex Statuses = new(@"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", RegexOptions.Multiline | RegexOptions.CultureInvariant);
    private static readonly Regex Traffic = new(@"^traffic: \S+ \((\d+)\) total, .* \((\d+)\) data", RegexOptions.Multiline | RegexOptions.CultureInvariant);

    /// <summary>Parses h2load's stdout; throws with the text when a line is missing.</summary>
    public static H2LoadOutput Parse(string stdout)
    {
        var finished = Match(Finished, stdout, "finished in");
        var requests = Match(Requests, stdout, "requests:");
        var statuses = Match(Statuses, stdout, "status codes:");
        var traffic = Match(Traffic, stdout, "traffic:");
        var seconds = Number(finished, 1) * finished.Groups[2].Value switch
        {
            "us" => 1e-6,
            "ms" => 1e-3,
            _ => 1,
        };
        return new H2LoadOutput(
            seconds,
            Number(finished, 3),
            Integer(requests, 1),
            Integer(requests, 2),
            Integer(requests, 3),
            Integer(requests, 4),
            Integer(statuses, 1),
            Integer(statuses, 2) + Integer(statuses, 3) + Integer(statuses, 4),
            Integer(traffic, 1),
            Integer(traffic, 2));
    }

    /// <summary>Why this run cannot be trusted, or null when every request succeeded with a 2xx.</summary>
    public string? Problem =>
        Succeeded == 0 ? "no request succeeded"
        : Failed + Errored + TimedOut > 0 ? $"{Failed} failed, {Errored} errored, {TimedOut} timed out of {Succeeded + Failed} requests"
        : StatusOther > 0 ? $"{StatusOther} responses were not 2xx"
        : null;

    private static Match Match(Regex regex, string text, string what)
    {
        var match = regex.Match(text);
        return match.Success ? match : throw new FormatException($"h2load printed no '{what}' line:\n{text}");
    }

    private static double Number(Match match, int group) => double.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);

    private static long Integer(Match match, int group) => long.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);
}
