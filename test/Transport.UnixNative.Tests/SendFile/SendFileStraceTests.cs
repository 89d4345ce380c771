using System.Diagnostics;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.SendFile;

/// <summary>The sample's <c>--files DIR</c>, run under strace: the kernel is asked to sendfile, not to copy.</summary>
[SupportedOSPlatform("linux")]
public sealed class SendFileStraceTests
{
    [ToolFact("strace", "curl")]
    public async Task The_sample_serves_files_with_the_sendfile_syscall()
    {
        using var directory = new TempSocketDirectory();
        var files = Directory.CreateDirectory(directory.PathOf("files")).FullName;
        var content = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        await File.WriteAllBytesAsync(Path.Combine(files, "blob.bin"), content);
        var socket = directory.PathOf("s.sock");
        var trace = directory.PathOf("strace.out");

        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var start = new ProcessStartInfo(Tools.Require("strace"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory.Path,
        };
        // --seccomp-bpf stops the process only for the traced call, so the sample runs at full speed otherwise.
        foreach (var a in new[] { "-f", "--seccomp-bpf", "-e", "trace=sendfile", "-o", trace, dotnet,
            Path.Combine(AppContext.BaseDirectory, "WebOverUds.dll"), "--files", files, "--urls", $"http://unix:{socket}" })
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["HOME"] = directory.Path;
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        try
        {
            var stderr = process.StandardError.ReadToEndAsync();
            while (await process.StandardOutput.ReadLineAsync().DefaultTimeout() is { } line && !line.StartsWith("Try: ", StringComparison.Ordinal))
            {
            }
            if (process.HasExited)
            {
                Assert.Fail($"The sample exited before listening: {await stderr.DefaultTimeout()}");
            }

            var copy = directory.PathOf("copy.out");
            var curl = await ProcessRunner.RunAsync("curl", ["-sS", "--fail", "--unix-socket", socket, "-o", copy, "http://localhost/files/blob.bin"]);
            Assert.True(curl.ExitCode == 0, curl.StandardError);
            Assert.Equal(content, await File.ReadAllBytesAsync(copy));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().DefaultTimeout();
        }
        var calls = File.ReadAllLines(trace).Where(l => l.Contains("sendfile(", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(calls);
        // The calls moved the whole file (each line ends "= bytes").
        Assert.Equal(content.Length, calls.Select(l => long.TryParse(l[(l.LastIndexOf('=') + 1)..].Trim(), out var n) && n > 0 ? n : 0).Sum());
    }
}
