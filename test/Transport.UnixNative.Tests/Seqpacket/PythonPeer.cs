using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Seqpacket;

/// <summary>Python 3's socket module as an outside seqpacket peer (it speaks AF_UNIX/SOCK_SEQPACKET natively).</summary>
internal static class PythonPeer
{
    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/>; returns stdout, fails the test with stderr otherwise.</summary>
    public static async Task<string> RunAsync(string script, params string[] args)
    {
        var result = await ProcessRunner.RunAsync("python3", new[] { "-c", script }.Concat(args));
        if (result.ExitCode != 0)
        {
            throw new Xunit.Sdk.XunitException($"python3 exited {result.ExitCode}: {result.StandardError}\n{result.StandardOutput}");
        }
        return result.StandardOutput;
    }
}
