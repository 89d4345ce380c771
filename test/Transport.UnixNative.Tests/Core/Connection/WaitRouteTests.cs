using System.Net;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>The sample's <c>GET /wait/{seconds}</c> contract, which outside checks drive.</summary>
public class WaitRouteTests
{
    [Theory]
    [InlineData("0", HttpStatusCode.OK)]
    [InlineData("0.05", HttpStatusCode.OK)]
    [InlineData("-1", HttpStatusCode.BadRequest)]
    [InlineData("abc", HttpStatusCode.BadRequest)]
    [InlineData("NaN", HttpStatusCode.BadRequest)]
    [InlineData("1e9", HttpStatusCode.BadRequest)]
    public async Task Wait_AnswersDone_OrRejectsNonsense(string seconds, HttpStatusCode expected)
    {
        using var paths = new TempPaths();
        var address = new ServerAddress(paths.SocketPath());
        await using var host = await SampleHost.StartAsync(address);
        using var client = UnixClient.CreateHttpClient(address);

        using var response = await client.GetAsync("/wait/" + seconds).DefaultTimeout();

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.OK)
        {
            Assert.Equal("done", await response.Content.ReadAsStringAsync().DefaultTimeout());
        }
    }
}
