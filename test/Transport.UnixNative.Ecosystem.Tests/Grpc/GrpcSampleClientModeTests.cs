using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Ecosystem.Tests.Grpc;

/// <summary>The sample's <c>client ADDRESS NAME</c> mode, run as a process.</summary>
[Collection(GrpcServerCollection.Name)]
public sealed class GrpcSampleClientModeTests(GrpcServerFixture server)
{
    [Theory]
    [InlineData("path")]
    [InlineData("abstract")]
    public async Task ClientMode_PrintsTheReply(string kind)
    {
        var result = await SampleProcess.RunAsync("GrpcOverUds", "client", server.Address(kind), "Dee");

        Assert.True(result.ExitCode == 0, result.StandardError);
        Assert.Equal("Hello Dee\n", result.StandardOutput);
    }

    [Fact]
    public async Task ClientMode_NoServer_NamesTheSocketAndErrno()
    {
        var missing = TestPaths.SocketPath();

        var result = await SampleProcess.RunAsync("GrpcOverUds", "client", missing, "x");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(missing, result.StandardError, StringComparison.Ordinal);
        Assert.Contains("ENOENT", result.StandardError, StringComparison.Ordinal);
    }
}
