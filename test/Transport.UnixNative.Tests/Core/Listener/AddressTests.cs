using System.Net.Sockets;
using System.Text;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Listener;
using Transport.UnixNative.Hosting;

namespace Transport.UnixNative.Tests.Core.Listener;

public class AddressTests
{
    [Fact]
    public void Encode_Path_LengthIsOffsetPlusBytesPlusNul()
    {
        Span<byte> buffer = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(false, "/tmp/a.sock", buffer);
        Assert.Equal(2 + 11 + 1, length);
        Assert.Equal((ushort)AddressFamily.Unix, BitConverter.ToUInt16(buffer[..2]));
        Assert.Equal("/tmp/a.sock"u8.ToArray(), buffer.Slice(2, 11).ToArray());
        Assert.Equal(0, buffer[13]);
    }

    [Fact]
    public void Encode_Abstract_LeadingNulThenExactlyTheName_NoPadding()
    {
        Span<byte> buffer = stackalloc byte[SockAddrUn.Size];
        buffer.Fill(0xEE);
        var length = SockAddrUn.Encode(true, "un-abc", buffer);
        // offsetof(sun_path) + 1 + len: padding to sizeof(sockaddr_un) would name a different socket.
        Assert.Equal(2 + 1 + 6, length);
        Assert.Equal(0, buffer[2]);
        Assert.Equal("un-abc"u8.ToArray(), buffer.Slice(3, 6).ToArray());
    }

    [Fact]
    public void Encode_AbstractName_MatchesTheRuntimesEncoding()
    {
        Span<byte> buffer = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(true, "un-abc", buffer);
        var runtime = new UnixDomainSocketEndPoint("\0un-abc").Serialize();
        Assert.Equal(runtime.Size, length);
        for (var i = 2; i < length; i++)
        {
            Assert.Equal(runtime[i], buffer[i]);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Decode_RoundTripsEncode(bool isAbstract)
    {
        Span<byte> buffer = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(isAbstract, "/tmp/ü.sock", buffer);
        Assert.Equal((isAbstract, "/tmp/ü.sock"), SockAddrUn.Decode(buffer[..length]));
    }

    [Fact]
    public void Decode_Unnamed_IsEmpty() => Assert.Equal((false, ""), SockAddrUn.Decode(new byte[] { 1, 0 }));

    [Fact]
    public void Parse_Path107Bytes_Accepted_108Rejected()
    {
        var ok = "/tmp/" + new string('a', 107 - 5);
        Assert.Equal(107, Encoding.UTF8.GetByteCount(ok));
        Assert.Equal(ok, UnixSocketAddress.Parse(ok, isSeqpacket: false).Name);

        var tooLong = ok + "b";
        var error = Assert.Throws<ArgumentException>(() => UnixSocketAddress.Parse(tooLong, isSeqpacket: false));
        Assert.Contains("ENAMETOOLONG", error.Message, StringComparison.Ordinal);
        Assert.Contains(tooLong, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PathLimitCountsUtf8Bytes()
    {
        // 54 two-byte characters: 54 chars but 108 bytes plus the leading '/' – too long in bytes.
        var path = "/" + new string('é', 54);
        Assert.Throws<ArgumentException>(() => UnixSocketAddress.Parse(path, isSeqpacket: false));
    }

    [Fact]
    public void Parse_AbstractName107Bytes_Accepted_108Rejected()
    {
        var name = new string('n', 107);
        Assert.True(UnixSocketAddress.Parse("@" + name, isSeqpacket: false).IsAbstract);
        Assert.Throws<ArgumentException>(() => UnixSocketAddress.Parse("@" + name + "n", isSeqpacket: false));
        Assert.Throws<ArgumentException>(() => UnixSocketAddress.Parse("@", isSeqpacket: false));
    }

    [Theory]
    [InlineData("@name", true, "name")]
    [InlineData("\0name", true, "name")]
    [InlineData("/\0name", true, "name")]
    [InlineData("/run/a.sock", false, "/run/a.sock")]
    public void Parse_Forms(string text, bool isAbstract, string name)
    {
        var address = UnixSocketAddress.Parse(text, isSeqpacket: true);
        Assert.Equal(isAbstract, address.IsAbstract);
        Assert.Equal(name, address.Name);
        Assert.True(address.IsSeqpacket);
    }

    [Theory]
    [InlineData("relative.sock")]
    [InlineData("./a.sock")]
    [InlineData("")]
    public void Parse_RelativePath_ClearError(string text)
    {
        var error = Assert.Throws<ArgumentException>(() => UnixSocketAddress.Parse(text, isSeqpacket: false));
        Assert.Contains("relative", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PathWithNul_Rejected()
        => Assert.Throws<ArgumentException>(() => UnixSocketAddress.Parse("/tmp/a\0b", isSeqpacket: false));

    [Theory]
    [InlineData("http://unix:@name", "http://unix:/\0name")]
    [InlineData("http://unix:@name/", "http://unix:/\0name")]
    [InlineData("http://unix:/tmp/a.sock", "http://unix:/tmp/a.sock")]
    [InlineData("http://127.0.0.1:5080", "http://127.0.0.1:5080")]
    public void UrlRewriter_AtNameBecomesAbstractMarker(string url, string expected)
        => Assert.Equal(expected, UnixUrlRewriter.RewriteOne(url));

    [Fact]
    public void UrlRewriter_Validate_RejectsLongPathWithENAMETOOLONG()
    {
        var path = "/tmp/" + new string('x', 103);
        var error = Assert.Throws<ArgumentException>(() => UnixUrlRewriter.Validate(["http://127.0.0.1:0", "http://unix:" + path]));
        Assert.Contains("ENAMETOOLONG", error.Message, StringComparison.Ordinal);
        UnixUrlRewriter.Validate(["http://unix:" + path[..^1], "http://localhost:5000", "http://unix:/\0abstract"]);
    }
}
