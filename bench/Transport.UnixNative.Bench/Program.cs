// Transport.UnixNative benchmarks.
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- [--quick] [options]   side-by-side load test (see --help)
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --reliability [--quick] [options]   reliability suite (see --reliability --help)
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --micro [filter] [BenchmarkDotNet options]
using Transport.UnixNative.Bench.Macro;
using Transport.UnixNative.Bench.Micro;
using Transport.UnixNative.Bench.Reliability;

return args switch
{
    ["--micro", .. var rest] => MicroBenchmarks.Run(rest),
    _ when args.Contains("--reliability") => await ReliabilitySuite.RunAsync(args),
    _ => await MacroBenchmark.RunAsync(args),
};
