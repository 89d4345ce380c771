extern alias UnixNativeClient;

using System.Diagnostics;
using System.Globalization;
using UnixNativeClient::Transport.UnixNative.Client;

namespace Transport.UnixNative.Bench.Macro;

/// <summary>
/// <c>--file-handover [--size-mib N] [--rounds N] [--no-build]</c>: a file handed to the server as a
/// descriptor (<c>POST /files/sha256</c>, the server reads it with pread) against the same file uploaded
/// as the request body (<c>POST /body/sha256</c>), alternating, on the native transport. Reports wall
/// time and server and client CPU seconds per request, median and spread.
/// </summary>
internal static class FileHandoverBenchmark
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        var sizeMiB = ValueOf(args, "--size-mib", 1024);
        var rounds = ValueOf(args, "--rounds", 3);
        var layout = await SampleBuild.LocateSampleAsync(null, !args.Contains("--no-build"), Console.Out, CancellationToken.None).ConfigureAwait(false);
        var file = $"/tmp/bench-handover-{Environment.ProcessId}.bin";
        var address = ServerAddress.Fresh(AddressKind.UnixStream);
        try
        {
            WriteFile(file, sizeMiB);
            await using var server = await ServerProcess.StartAsync(layout.Dll, new ServerSpec("native", address, null, false), CancellationToken.None).ConfigureAwait(false);
            using var http = new HttpClient(UnixSocketHttpHandler.Create(address.Path)) { BaseAddress = new Uri("http://localhost"), Timeout = TimeSpan.FromMinutes(10) };
            var results = new Dictionary<string, List<(double Seconds, double ServerCpu, double ClientCpu)>> { ["descriptor"] = [], ["body"] = [] };
            // Warm both paths (JIT, page cache) once, then alternate the order every round.
            await MeasureAsync(http, server, file, "descriptor").ConfigureAwait(false);
            await MeasureAsync(http, server, file, "body").ConfigureAwait(false);
            for (var round = 0; round < rounds; round++)
            {
                foreach (var kind in round % 2 == 0 ? new[] { "descriptor", "body" } : ["body", "descriptor"])
                {
                    results[kind].Add(await MeasureAsync(http, server, file, kind).ConfigureAwait(false));
                }
            }
            Console.WriteLine($"{sizeMiB} MiB file, {rounds} round(s), {Environment.ProcessorCount} cores");
            Console.WriteLine("| how the file reaches the server | wall s (median, min–max) | server CPU s | client CPU s |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var (kind, samples) in results)
            {
                Console.WriteLine($"| {(kind == "descriptor" ? "descriptor (SCM_RIGHTS), server preads" : "uploaded as the request body")} | {Summary(samples.Select(s => s.Seconds))} | {Summary(samples.Select(s => s.ServerCpu))} | {Summary(samples.Select(s => s.ClientCpu))} |");
            }
            return 0;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<(double Seconds, double ServerCpu, double ClientCpu)> MeasureAsync(HttpClient http, ServerProcess server, string file, string kind)
    {
        using var handle = File.OpenHandle(file);
        using var request = new HttpRequestMessage(HttpMethod.Post, kind == "descriptor" ? "/files/sha256" : "/body/sha256");
        if (kind == "descriptor")
        {
            request.Options.Set(UnixSocketHttpHandler.DescriptorsOption, [handle]);
        }
        else
        {
            request.Content = new StreamContent(new FileStream(handle, FileAccess.Read, bufferSize: 0), 256 * 1024);
        }
        var cpu = server.Sample().CpuSeconds;
        var ours = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        using var response = await http.SendAsync(request).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        clock.Stop();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{kind}: HTTP {(int)response.StatusCode} {body}");
        }
        return (clock.Elapsed.TotalSeconds, server.Sample().CpuSeconds - cpu, (Process.GetCurrentProcess().TotalProcessorTime - ours).TotalSeconds);
    }

    private static void WriteFile(string path, int sizeMiB)
    {
        var block = new byte[1024 * 1024];
        new Random(42).NextBytes(block);
        using var stream = File.Create(path);
        for (var i = 0; i < sizeMiB; i++)
        {
            block[0] = (byte)i;
            stream.Write(block);
        }
    }

    private static string Summary(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return string.Create(CultureInfo.InvariantCulture, $"{sorted[sorted.Length / 2]:0.000} ({sorted[0]:0.000}–{sorted[^1]:0.000})");
    }

    private static int ValueOf(IReadOnlyList<string> args, string name, int fallback)
    {
        for (var i = 0; i + 1 < args.Count; i++)
        {
            if (args[i] == name)
            {
                return int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
        }
        return fallback;
    }
}
