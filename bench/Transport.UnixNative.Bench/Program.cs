// Transport.UnixNative benchmarks (the stress suites, --reliability and --security, are in bench/Transport.UnixNative.Stress).
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- [--quick] [options]   side-by-side load test (see --help)
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --micro [filter] [BenchmarkDotNet options]
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --file-handover [--size-mib 1024] [--rounds 3]   descriptor vs upload
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --sendfile [--quick]   static files: sendfile vs copy vs nginx
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --restart [--rounds 3] [--no-build]   hand-over vs stop-and-start under load
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --warmup-curve [--seconds 30] [--rounds 2]   time to full speed on one core
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --sidecar [--rounds 3]   HttpClient process → minimal app, both processes' CPU
using Transport.UnixNative.Bench.Macro;
using Transport.UnixNative.Bench.Micro;
using Transport.UnixNative.Bench.Restart;
using Transport.UnixNative.Bench.SendFile;
using Transport.UnixNative.Bench.Sidecar;
using Transport.UnixNative.Bench.Warmup;

return args switch
{
    ["--micro", .. var rest] => MicroBenchmarks.Run(rest),
    ["--file-handover", .. var rest] => await FileHandoverBenchmark.RunAsync(rest),
    ["--sendfile", .. var rest] => await SendFileBenchmark.RunAsync(rest),
    ["--restart", .. var rest] => await RestartBenchmark.RunAsync(rest),
    ["--warmup-curve", .. var rest] => await WarmupCurveBenchmark.RunAsync(rest),
    ["--sidecar", .. var rest] => await SidecarBenchmark.RunAsync(rest),
    ["--sidecar-client", .. var rest] => await SidecarClient.RunAsync(rest),
    _ when args.Contains("--reliability") || args.Contains("--security") => Moved(),
    _ => await MacroBenchmark.RunAsync(args),
};

// The stress suites have their own project; say where rather than run a load benchmark by mistake.
static int Moved()
{
    Console.Error.WriteLine("--reliability and --security moved: dotnet run -c Release --project bench/Transport.UnixNative.Stress -- --reliability|--security [--quick]");
    return 2;
}
