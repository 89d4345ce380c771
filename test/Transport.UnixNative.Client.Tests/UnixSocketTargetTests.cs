using Transport.UnixNative.Client.Internal;

namespace Transport.UnixNative.Client.Tests;

/// <summary>Address rules and the synthetic pool host that stands for a socket.</summary>
public sealed class UnixSocketTargetTests
{
    [Theory]
    [InlineData("/run/app/app.sock", false, "/run/app/app.sock")]
    [InlineData("@sidecar", true, "sidecar")]
    [InlineData("\0sidecar", true, "sidecar")]
    [InlineData("/tmp/ünïcödé sock", false, "/tmp/ünïcödé sock")]
    public void Parse_PathsAndAbstractNames(string address, bool isAbstract, string name)
    {
        var target = UnixSocketTarget.Parse(address, isSeqpacket: false);

        Assert.Equal(isAbstract, target.IsAbstract);
        Assert.Equal(name, target.Name);
    }

    [Fact]
    public void AbstractEndPoint_HasTheExactLength_NoNulPadding()
    {
        var target = UnixSocketTarget.Parse("@abc", isSeqpacket: false);

        var address = target.EndPoint.Serialize();

        // sa_family (2 bytes) + leading NUL + "abc": padding to 110 bytes would name another socket.
        Assert.Equal(2 + 1 + 3, address.Size);
        Assert.Equal(0, address[2]);
        Assert.Equal((byte)'c', address[5]);
    }

    [Theory]
    [InlineData("relative.sock", "relative")]
    [InlineData("", "empty")]
    [InlineData("@", "needs a name")]
    [InlineData("/tmp/a\0b", "NUL")]
    public void Parse_RefusesWhatCannotNameASocket(string address, string reason)
    {
        var error = Assert.Throws<UnixSocketAddressException>(() => UnixSocketTarget.Parse(address, isSeqpacket: false));

        Assert.Contains(reason, error.Message);
        Assert.Null(error.Errno);
    }

    [Fact]
    public void Parse_107BytePathIsTheLimit()
    {
        var longest = "/tmp/" + new string('x', 102);
        var tooLong = longest + "x";

        Assert.Equal(longest, UnixSocketTarget.Parse(longest, isSeqpacket: false).Name);
        var error = Assert.Throws<UnixSocketAddressException>(() => UnixSocketTarget.Parse(tooLong, isSeqpacket: false));
        Assert.Equal(36, error.Errno);
        Assert.Contains("ENAMETOOLONG", error.Message);
        Assert.Contains("108 bytes", error.Message);
    }

    [Fact]
    public void Parse_CountsBytesNotCharacters()
    {
        var twoByteChars = "/tmp/" + new string('é', 52); // 5 + 104 bytes

        var error = Assert.Throws<UnixSocketAddressException>(() => UnixSocketTarget.Parse(twoByteChars, isSeqpacket: false));

        Assert.Contains("109 bytes", error.Message);
    }

    [Theory]
    [InlineData("/run/app/app.sock", false)]
    [InlineData("@sidecar", true)]
    [InlineData("/tmp/ünïcödé sock", false)]
    public void PoolHost_RoundTrips_AndIsAValidHostName(string address, bool isSeqpacket)
    {
        var target = UnixSocketTarget.Parse(address, isSeqpacket);

        var hosts = new UnixSocketPoolHosts();
        var host = hosts.HostFor(target);
        var uri = new Uri($"http://{host}/x");

        Assert.Equal(UriHostNameType.Dns, uri.HostNameType);
        Assert.Equal(host, uri.Host);
        Assert.True(hosts.TryParse(uri.Host, out var back));
        Assert.Equal(target, back);
    }

    [Fact]
    public void PoolHost_OfTheLongestAddresses_FitsDnsLimits()
    {
        var longestAbstract = UnixSocketTarget.Parse("@" + new string('a', 107), isSeqpacket: true);
        var longestPath = UnixSocketTarget.Parse("/" + new string('p', 106), isSeqpacket: false);

        var hosts = new UnixSocketPoolHosts();
        foreach (var target in new[] { longestAbstract, longestPath })
        {
            var host = hosts.HostFor(target);
            Assert.True(host.Length <= 253, $"{host.Length} characters");
            Assert.All(host.Split('.'), label => Assert.InRange(label.Length, 1, 63));
            Assert.Equal(UriHostNameType.Dns, new Uri($"http://{host}/").HostNameType);
            Assert.True(hosts.TryParse(host, out var back));
            Assert.Equal(target, back);
        }
    }

    [Fact]
    public void PoolHosts_DifferPerSocketAndPerType()
    {
        var pool = new UnixSocketPoolHosts();
        var hosts = new[]
        {
            pool.HostFor(UnixSocketTarget.Parse("/a.sock", false)),
            pool.HostFor(UnixSocketTarget.Parse("/b.sock", false)),
            pool.HostFor(UnixSocketTarget.Parse("/a.sock", true)),
            pool.HostFor(UnixSocketTarget.Parse("@a.sock", false)),
        };

        Assert.Equal(hosts.Length, hosts.Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("example.invalid")]
    [InlineData("zz.stream.unix.invalid")]
    [InlineData("2f61.dgram.unix.invalid")]
    [InlineData("616263.stream.unix.invalid")] // "abc": a relative path
    public void TryParsePoolHost_RejectsOtherHosts(string host)
    {
        Assert.False(new UnixSocketPoolHosts().TryParse(host, out _));
    }

    [Fact]
    public void PoolHost_OfAnotherHandler_OrAltered_IsRefused()
    {
        var target = UnixSocketTarget.Parse("/var/run/docker.sock", isSeqpacket: false);
        var mine = new UnixSocketPoolHosts();
        var host = mine.HostFor(target);

        // Another handler's key, the same address with the MAC label of another socket, or a flipped character.
        Assert.False(new UnixSocketPoolHosts().TryParse(host, out _));
        var labels = host.Split('.');
        var other = mine.HostFor(UnixSocketTarget.Parse("/tmp/x.sock", isSeqpacket: false)).Split('.');
        var spliced = string.Join('.', labels[..^4].Append(other[^4]).Concat(labels[^3..]));
        Assert.False(mine.TryParse(spliced, out _));
        var flipped = (host[0] == 'a' ? 'b' : 'a') + host[1..];
        Assert.False(mine.TryParse(flipped, out _));
        Assert.True(mine.TryParse(host.ToUpperInvariant(), out var back));
        Assert.Equal(target, back);
    }
}
