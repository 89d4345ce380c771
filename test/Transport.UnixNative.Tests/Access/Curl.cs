using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Access;

/// <summary>The reply curl got, or how it failed (exit 7: could not connect; 52/55/56: closed on it).</summary>
internal sealed record CurlResult(ProcessResult Process, int Status, string Body)
{
    public int ExitCode => Process.ExitCode;

    /// <summary>The pid of curl, which setpriv execs in place: the pid the server sees.</summary>
    public int Pid => Process.Pid;

    public override string ToString() => $"HTTP {Status}: {Body}\n{Process}";
}

/// <summary>curl as an outside peer, optionally as another user via <c>setpriv</c> (which execs curl, keeping the pid).</summary>
internal static class Curl
{
    /// <summary>setpriv's groups switch: <c>--clear-groups</c>, <c>--init-groups</c> (from /etc/group) or <c>--groups=a,b</c>.</summary>
    public const string ClearGroups = "--clear-groups";
    public const string InitGroups = "--init-groups";

    public static string Groups(params string[] groups) => "--groups=" + string.Join(',', groups);

    /// <summary>GET <paramref name="path"/> over the socket at <paramref name="socket"/> (<c>@name</c> for abstract).</summary>
    public static async Task<CurlResult> GetAsync(string socket, string path, TestUser? user = null, string groups = ClearGroups, params string[] extra)
    {
        List<string> arguments = [];
        var program = "curl";
        if (user is not null)
        {
            program = "setpriv";
            arguments.AddRange([$"--reuid={user.Uid}", $"--regid={user.Gid}", groups, "curl"]);
        }
        const string statusMarker = "\n@@status=";
        arguments.AddRange(["-q", "-sS", "--max-time", "20", "-w", statusMarker + "%{http_code}"]);
        arguments.AddRange(socket.StartsWith('@') ? ["--abstract-unix-socket", socket[1..]] : ["--unix-socket", socket]);
        arguments.AddRange(extra);
        arguments.Add("http://localhost" + path);
        var result = await ProcessRunner.RunAsync(program, arguments);
        var marker = result.StandardOutput.LastIndexOf(statusMarker, StringComparison.Ordinal);
        return marker < 0
            ? new CurlResult(result, 0, result.StandardOutput)
            : new CurlResult(result, int.Parse(result.StandardOutput[(marker + statusMarker.Length)..]), result.StandardOutput[..marker]);
    }
}
