namespace Transport.UnixNative.Tests;

public class EndPointDisplayTests
{
    [Theory]
    [InlineData("/tmp/un-0123abcd.sock")]
    [InlineData("@un-0123abcd")]
    public void SeqpacketEndPoint_KestrelAddress_IsAValidUri(string address)
    {
        // Kestrel lists a custom endpoint as "http://" + EndPoint.ToString(); consumers of
        // IServerAddressesFeature (WebApplicationFactory among them) parse every address with new Uri().
        var endPoint = new UnixSeqpacketEndPoint(address);
        var uri = new Uri("http://" + endPoint);
        Assert.Equal("http", uri.Scheme);
        Assert.Contains(address, "http://" + endPoint, StringComparison.Ordinal);
    }
}
