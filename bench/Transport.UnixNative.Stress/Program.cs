// Transport.UnixNative stress suites: what hostile and unlucky peers do to the sample, measured (not benchmarks).
//   dotnet run -c Release --project bench/Transport.UnixNative.Stress -- --reliability [--quick] [options]   (see --reliability --help)
//   dotnet run -c Release --project bench/Transport.UnixNative.Stress -- --security [--quick] [options]      (see --security --help)
using Transport.UnixNative.Stress.Reliability;
using Transport.UnixNative.Stress.Security;

return args switch
{
    _ when args.Contains("--reliability") => await ReliabilitySuite.RunAsync(args),
    _ when args.Contains("--security") => await SecuritySuite.RunAsync(args),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project bench/Transport.UnixNative.Stress -- --reliability [--quick] [options]
               dotnet run -c Release --project bench/Transport.UnixNative.Stress -- --security [--quick] [options]
        Add --help after either for its options. The load benchmarks are in bench/Transport.UnixNative.Bench.
        """);
    return 2;
}
