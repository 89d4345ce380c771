using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Bench.Macro;

namespace Transport.UnixNative.Bench.SendFile;

/// <summary>
/// Static files from the page cache over a unix stream socket, served by the sample's
/// <c>--files</c> on our transport (sendfile), on Kestrel's Sockets transport (a stream copy), and by
/// nginx with <c>sendfile on;</c> (the practical limit), side by side in one run. h2load reads the
/// bodies; the table shows MB/s of body data and server CPU-seconds per GiB served.
/// </summary>
internal static class SendFileBenchmark
{
    public const string Usage = """
        --sendfile [--quick] [--rounds N] [--duration SECONDS] [--no-build]
          1 MiB and 64 MiB files, 1 and 16 connections: native (sendfile) vs sockets vs nginx (sendfile on).
        """;

    private sealed record Load(string Name, string File, int Connections);

    private sealed record Row(string Load, string Server, int Round, double MegabytesPerSecond, double CpuSecondsPerGiB, long Bytes);

    private static readonly Load[] s_loads =
    [
        new("1 MiB, 1 conn", "1m.bin", 1),
        new("1 MiB, 16 conns", "1m.bin", 16),
        new("64 MiB, 1 conn", "64m.bin", 1),
        new("64 MiB, 16 conns", "64m.bin", 16),
    ];

    private static readonly string[] s_servers = ["native", "sockets", "nginx"];

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        var quick = args.Contains("--quick");
        var rounds = Option(args, "--rounds", quick ? 1 : 3);
        var duration = Option(args, "--duration", quick ? 2 : 5);
        var layout = await SampleBuild.LocateSampleAsync(null, !args.Contains("--no-build"), Console.Out, CancellationToken.None).ConfigureAwait(false);

        var work = Path.Combine("/tmp", "sfbench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.Combine(work, "files"));
        try
        {
            WriteFile(Path.Combine(work, "files", "1m.bin"), 1 << 20);
            WriteFile(Path.Combine(work, "files", "64m.bin"), 64 << 20);
            var rows = new List<Row>();
            for (var round = 1; round <= rounds; round++)
            {
                // Alternate the order so no server always runs first (or last) in a drifting machine.
                var order = round % 2 == 1 ? s_servers : s_servers.Reverse().ToArray();
                foreach (var server in order)
                {
                    rows.AddRange(await MeasureServerAsync(server, layout.Dll, work, round, duration).ConfigureAwait(false));
                }
            }
            var table = Table(rows, rounds, duration);
            Console.WriteLine(table);
            var results = Path.Combine(layout.Root, "bench", "results");
            Directory.CreateDirectory(results);
            var file = Path.Combine(results, "sendfile-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + ".md");
            await File.WriteAllTextAsync(file, table).ConfigureAwait(false);
            Console.WriteLine($"Written: {file}");
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static int Option(IReadOnlyList<string> args, string name, int fallback)
    {
        var i = args.ToList().IndexOf(name);
        return i >= 0 && i + 1 < args.Count ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static void WriteFile(string path, int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        File.WriteAllBytes(path, bytes); // just written: in the page cache
    }

    private static async Task<List<Row>> MeasureServerAsync(string server, string dll, string work, int round, int duration)
    {
        var socket = Path.Combine(work, server + ".sock");
        var process = StartServer(server, dll, work, socket);
        var rows = new List<Row>();
        try
        {
            await WaitForSocketAsync(socket, process).ConfigureAwait(false);
            foreach (var load in s_loads)
            {
                await H2LoadAsync(socket, load, 1).ConfigureAwait(false); // warm-up (JIT, connection pools)
                var before = ProcStat.Read(process.Pid).CpuSeconds;
                var output = await H2LoadAsync(socket, load, duration).ConfigureAwait(false);
                var cpu = ProcStat.Read(process.Pid).CpuSeconds - before;
                if (output.Problem is { } problem)
                {
                    Console.Error.WriteLine($"{server} {load.Name}: {problem}");
                }
                var row = new Row(load.Name, server, round, output.DataBytes / output.Seconds / 1e6, cpu / (output.DataBytes / (double)(1L << 30)), output.DataBytes);
                Console.WriteLine($"round {round} {server,-8} {load.Name,-18} {row.MegabytesPerSecond,9:F0} MB/s {row.CpuSecondsPerGiB,7:F3} CPU-s/GiB");
                rows.Add(row);
            }
        }
        finally
        {
            process.Dispose();
            File.Delete(socket);
        }
        return rows;
    }

    private static ChildProcess StartServer(string server, string dll, string work, string socket)
    {
        ProcessStartInfo start;
        if (server == "nginx")
        {
            var conf = Path.Combine(work, "nginx.conf");
            File.WriteAllText(conf, $$"""
                daemon off;
                master_process off;
                worker_processes 1;
                pid {{work}}/nginx.pid;
                error_log {{work}}/nginx-error.log warn;
                events { worker_connections 1024; }
                http {
                    access_log off;
                    sendfile on;
                    client_body_temp_path {{work}}/nginx-body;
                    proxy_temp_path {{work}}/nginx-proxy;
                    fastcgi_temp_path {{work}}/nginx-fastcgi;
                    uwsgi_temp_path {{work}}/nginx-uwsgi;
                    scgi_temp_path {{work}}/nginx-scgi;
                    server {
                        listen unix:{{socket}};
                        location /files/ { alias {{work}}/files/; }
                    }
                }
                """);
            start = new ProcessStartInfo("nginx") { ArgumentList = { "-c", conf, "-e", Path.Combine(work, "nginx-error.log") } };
        }
        else
        {
            start = ChildProcess.Dotnet(dll, ["--transport", server, "--files", Path.Combine(work, "files"), "--urls", $"http://unix:{socket}"]);
            start.Environment["DOTNET_gcServer"] = "0";
        }
        return ChildProcess.Start(start, errorPrefix: server);
    }

    private static async Task WaitForSocketAsync(string path, ChildProcess process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await probe.ConnectAsync(new UnixDomainSocketEndPoint(path)).ConfigureAwait(false);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
        }
        throw new IOException($"the server never listened on {path}");
    }

    private static Task<H2LoadOutput> H2LoadAsync(string socket, Load load, int seconds)
        => new H2LoadRunner("h2load").RunAsync(
            ["--h1", "-B", $"unix:{socket}", "-c", load.Connections.ToString(CultureInfo.InvariantCulture), "-t", "1", "-D", seconds.ToString(CultureInfo.InvariantCulture), $"http://localhost/files/{load.File}"],
            TimeSpan.FromSeconds(seconds), CancellationToken.None);

    private static string Table(List<Row> rows, int rounds, int duration)
    {
        static string Spread(IEnumerable<double> values, string format)
        {
            var sorted = values.Order().ToArray();
            var median = sorted[sorted.Length / 2];
            return sorted.Length == 1
                ? median.ToString(format, CultureInfo.InvariantCulture)
                : $"{median.ToString(format, CultureInfo.InvariantCulture)} ({sorted[0].ToString(format, CultureInfo.InvariantCulture)}–{sorted[^1].ToString(format, CultureInfo.InvariantCulture)})";
        }
        static double Median(IEnumerable<double> values) => Statistics.Median(values) ?? double.NaN;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Static files over a unix stream socket, page cache; h2load --h1, {rounds} round(s) × {duration} s; median (min–max).");
        text.AppendLine();
        text.AppendLine("| load | server | MB/s | server CPU-s per GiB | MB/s vs sockets | CPU/GiB vs sockets |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var load in s_loads)
        {
            var sockets = rows.Where(r => r.Load == load.Name && r.Server == "sockets").ToArray();
            foreach (var server in s_servers)
            {
                var mine = rows.Where(r => r.Load == load.Name && r.Server == server).ToArray();
                var mbRatio = Median(mine.Select(r => r.MegabytesPerSecond)) / Median(sockets.Select(r => r.MegabytesPerSecond));
                var cpuRatio = Median(mine.Select(r => r.CpuSecondsPerGiB)) / Median(sockets.Select(r => r.CpuSecondsPerGiB));
                var label = server switch { "native" => "native (sendfile)", "sockets" => "Kestrel Sockets", _ => "nginx sendfile on" };
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {load.Name} | {label} | {Spread(mine.Select(r => r.MegabytesPerSecond), "F0")} | {Spread(mine.Select(r => r.CpuSecondsPerGiB), "F3")} | {mbRatio:F2}× | {cpuRatio:F2}× |");
            }
        }
        return text.ToString();
    }
}
