using System.Net;
using System.Net.Sockets;
using CsCheck;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Core.Listener;

namespace Transport.UnixNative.Tests.Core.Listener;

/// <summary>Any address the kernel allows survives encode, decode and the endpoint types unchanged.</summary>
public class PeerAddressPropertyTests
{
    private static readonly Gen<byte[]> AbstractNames = Gen.Byte.Array[0, SockAddrUn.MaxAbstractNameBytes];

    // A path's bytes: anything but NUL, up to a full sun_path.
    private static readonly Gen<byte[]> PathNames = Gen.Byte[1, 255].Array[1, SockAddrUn.MaxPeerPathBytes];

    [Fact]
    public void SockAddrUn_AnyAbstractName_RoundTrips() => AbstractNames.Sample(name =>
    {
        Span<byte> buffer = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(true, name, buffer);
        Assert.Equal(SockAddrUn.PathOffset + 1 + name.Length, length);
        Assert.Equal(name, SockAddrUn.DecodeBytes(buffer[..length], out var isAbstract).ToArray());
        Assert.True(isAbstract);
    });

    [Fact]
    public void SockAddrUn_AnyPath_RoundTrips() => PathNames.Sample(name =>
    {
        Span<byte> buffer = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(false, name, buffer);
        Assert.Equal(name, SockAddrUn.DecodeBytes(buffer[..length], out var isAbstract).ToArray());
        Assert.False(isAbstract);
    });

    [Fact]
    public void RemoteEndPoint_AnyPeerAddress_KeepsItsBytes_AndPrintsNoControlCharacter()
        => Gen.Select(Gen.Bool, AbstractNames, PathNames).Sample((isAbstract, abstractName, pathName) =>
        {
            var name = isAbstract ? abstractName : pathName;
            Span<byte> buffer = stackalloc byte[SockAddrUn.Size];
            var length = SockAddrUn.Encode(isAbstract, name, buffer);
            var endPoint = ConnectionSetup.RemoteEndPointOf(buffer[..length], isPacket: false);

            var serialized = endPoint.Serialize();
            Assert.Equal(name, SockAddrUn.DecodeBytes(serialized.Buffer.Span[..serialized.Size], out var decodedAbstract).ToArray());
            Assert.Equal(isAbstract, decodedAbstract);
            Assert.DoesNotContain(endPoint.ToString()!, c => char.IsControl(c));
            Assert.Equal(endPoint, endPoint.Create(serialized));
        });

    [Fact]
    public void UnixPeerEndPoint_EqualOnBytes_DisplayEscapes()
    {
        var a = new UnixPeerEndPoint([0xff, 0x00, (byte)'a', (byte)'\\'], isAbstract: true);
        Assert.Equal(@"@\xff\x00a\\", a.ToString());
        Assert.Equal(a, new UnixPeerEndPoint([0xff, 0x00, (byte)'a', (byte)'\\'], isAbstract: true));
        Assert.Equal(a.GetHashCode(), new UnixPeerEndPoint([0xff, 0x00, (byte)'a', (byte)'\\'], isAbstract: true).GetHashCode());
        Assert.NotEqual(new UnixPeerEndPoint("/x"u8, isAbstract: true), new UnixPeerEndPoint("/x"u8, isAbstract: false));
        Assert.Equal("/tmp/é", new UnixPeerEndPoint("/tmp/é"u8, isAbstract: false).ToString());
        Assert.Equal(AddressFamily.Unix, a.AddressFamily);
        Assert.Throws<ArgumentException>(() => new UnixPeerEndPoint("a\0b"u8, isAbstract: false));
        Assert.Throws<ArgumentException>(() => new UnixPeerEndPoint(new byte[108], isAbstract: true));
    }

    [Fact]
    public void RemoteEndPoint_UnnamedPeer_IsTheRuntimesEmptyEndPoint()
    {
        var endPoint = ConnectionSetup.RemoteEndPointOf([1, 0], isPacket: false);
        Assert.IsType<UnixDomainSocketEndPoint>(endPoint);
        Assert.IsNotType<IPEndPoint>(endPoint);
    }
}
