using System.Diagnostics;
using Transport.UnixNative.Client;

namespace Transport.UnixNative.Ecosystem.Tests.Samples;

/// <summary>
/// The sample as deployed: its endpoint from the environment (<c>Kestrel__Endpoints__A__Url</c>), which
/// stock Kestrel reads as TCP port 80 for <c>http://unix:@name</c>. Served on the abstract socket; a URL the
/// transport cannot serve is one line naming the key and exit 1.
/// </summary>
public sealed class ConfiguredEndpointTests
{
    [Fact]
    public async Task EnvironmentEndpoint_AtName_ServedOnTheAbstractSocket()
    {
        var name = TestPaths.AbstractName();
        var start = Start(("Kestrel__Endpoints__A__Url", $"http://unix:@{name}"));
        using var process = Process.Start(start)!;
        try
        {
            // The sample prints "Try: …" once per address when it has started.
            string? line;
            do
            {
                line = await process.StandardOutput.ReadLineAsync().DefaultTimeout();
            }
            while (line is not null && !line.StartsWith("Try: ", StringComparison.Ordinal));
            Assert.NotNull(line);
            Assert.Contains($"--abstract-unix-socket {name} ", line, StringComparison.Ordinal);

            using var http = new HttpClient(UnixSocketHttpHandler.Create("@" + name)) { BaseAddress = new("http://localhost") };
            Assert.Equal("Hello, World!", await http.GetStringAsync("/plaintext").DefaultTimeout());
            Assert.Empty(Configuration.EndpointUrlTests.TcpListenersOfProcess(process.Id, port: 80));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().DefaultTimeout();
        }
    }

    [Fact]
    public async Task EnvironmentEndpoint_Unservable_OneLineNamingTheKey_Exit1()
    {
        var start = Start(("Kestrel__Endpoints__Api__Url", "http://unix:relative/api.sock"));
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().DefaultTimeout();

        Assert.Equal(1, process.ExitCode);
        var line = Assert.Single((await stderr.DefaultTimeout()).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("WebOverUds: cannot start: Kestrel:Endpoints:Api:Url: ", line, StringComparison.Ordinal);
        Assert.Contains("'relative/api.sock' is relative", line, StringComparison.Ordinal);
        await stdout.DefaultTimeout();
    }

    private static ProcessStartInfo Start(params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo(ProcessRunner.Dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(SampleProcess.Dll("WebOverUds"));
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        return start;
    }
}
