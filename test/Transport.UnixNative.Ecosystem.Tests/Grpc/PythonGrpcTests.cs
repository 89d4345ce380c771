using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Ecosystem.Tests.Grpc;

/// <summary>
/// Debian's python3-grpcio (Google's C-core client: its own HTTP/2 and unix: / unix-abstract: targets)
/// against samples/GrpcOverUds: a peer nobody here wrote. Generic calls with hand-encoded protobuf.
/// </summary>
[Collection(GrpcServerCollection.Name)]
public sealed class PythonGrpcTests(GrpcServerFixture server)
{
    // Field 1 (name, length-delimited) and for streams field 2 (count, varint), encoded by hand.
    private const string Script = """
        import sys, grpc
        target, name, count = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
        def string_field(tag, value): return bytes([tag << 3 | 2, len(value)]) + value
        def read_message(data): return data[2:2 + data[1]].decode()
        with grpc.insecure_channel(target) as channel:
            reply = channel.unary_unary('/greet.Greeter/SayHello')(string_field(1, name), timeout=20)
            print(read_message(reply))
            stream = channel.unary_stream('/greet.Greeter/SayHelloStream')(string_field(1, name) + bytes([2 << 3, count]), timeout=20)
            for reply in stream:
                print(read_message(reply))
        """;

    [PythonGrpcTheory]
    [InlineData("path")]
    [InlineData("abstract")]
    public async Task PythonGrpcio_UnaryAndServerStream(string kind)
    {
        var address = server.Address(kind);
        var target = address.StartsWith('@') ? "unix-abstract:" + address[1..] : "unix:" + address;

        var result = await ProcessRunner.RunAsync(PythonGrpcTheoryAttribute.Python, ["-c", Script, target, "py", "3"]);

        Assert.True(result.ExitCode == 0, $"python3-grpcio exit {result.ExitCode}: {result.StandardError}");
        Assert.Equal(["Hello py", "Hello py (1/3)", "Hello py (2/3)", "Hello py (3/3)"],
            result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}

/// <summary>Needs /usr/bin/python3 with the grpc module (Debian: python3-grpcio); in CI a missing module fails the test instead.</summary>
public sealed class PythonGrpcTheoryAttribute : TheoryAttribute
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<bool> s_available = new(() =>
    {
        try
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(Python, ["-c", "import grpc"])
            {
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null || !process.WaitForExit(20_000))
            {
                return false;
            }
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    });

    public PythonGrpcTheoryAttribute()
    {
        if (!Tools.IsCI && !s_available.Value)
        {
            Skip = $"{Python} cannot import grpc (apt-get install python3-grpcio; under CI=true this test runs and fails instead).";
        }
    }
}
