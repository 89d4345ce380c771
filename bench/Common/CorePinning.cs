namespace Transport.UnixNative.Bench.Common;

/// <summary>
/// One core for the server, another for the load: what a 1-CPU sidecar gets, and a cheaper server can no
/// longer hand its CPU to the load generator. Processes are started under <c>taskset -c CORE</c> (which
/// execs the command: the pid stays the server's, and every thread it creates inherits the mask).
/// </summary>
internal static class CorePinning
{
    /// <summary>The server's core (every thread of a .NET app, nginx's single process).</summary>
    public const string ServerCore = "0";

    /// <summary>The load generator's core (h2load).</summary>
    public const string LoadCore = "1";

    private static readonly string[] TasksetPaths = ["/usr/bin/taskset", "/bin/taskset", "/usr/local/bin/taskset"];

    /// <summary>Why pinning cannot be done here (fewer than 2 cores, no taskset), or null when it can.</summary>
    public static string? WhyUnavailable()
    {
        if (Environment.ProcessorCount < 2)
        {
            return $"this machine lets us use {Environment.ProcessorCount} core(s); server and load on cores of their own need 2";
        }
        return TasksetPaths.Any(File.Exists) ? null : "taskset is not installed (Debian: util-linux)";
    }

    /// <summary>The command line that runs <paramref name="command"/> on <paramref name="core"/> only.</summary>
    public static IReadOnlyList<string> On(string core, IEnumerable<string> command) => ["taskset", "-c", core, .. command];
}
