// Transport.UnixNative benchmarks.
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- [--quick] [options]   side-by-side load test (see --help)
//   dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --micro [filter] [BenchmarkDotNet options]
using Transport.UnixNative.Bench.Macro;
using Transport.UnixNative.Bench.Micro;

return args is ["--micro", .. var rest]
    ? MicroBenchmarks.Run(rest)
    : await MacroBenchmark.RunAsync(args);
