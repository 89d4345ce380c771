using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>SO_PEERSEC's bytes as the kernel's security modules return them.</summary>
public class PeerSecurityLabelTests
{
    [Theory]
    [InlineData("system_u:system_r:httpd_t:s0\0", "system_u:system_r:httpd_t:s0")] // SELinux counts the NUL
    [InlineData("/usr/bin/app (enforce)", "/usr/bin/app (enforce)")]            // AppArmor does not
    [InlineData("unconfined\0\0\0", "unconfined")]                              // padding
    [InlineData("label\0junk", "label")]                                        // nothing after a NUL
    public void Parse_DropsTheTerminatorAndWhatFollows(string raw, string expected)
        => Assert.Equal(expected, PeerSecurityLabel.Parse(Encoding.UTF8.GetBytes(raw)));

    [Theory]
    [InlineData("")]
    [InlineData("\0")]
    public void Parse_EmptyIsNoLabel(string raw) => Assert.Null(PeerSecurityLabel.Parse(Encoding.UTF8.GetBytes(raw)));

    [Fact]
    public void Parse_KeepsUtf8() => Assert.Equal("étiquette", PeerSecurityLabel.Parse("étiquette\0"u8));

    [Fact]
    public void ThisMachine_GivesTheSameAnswerAsTheKernelDoesForASocketPair()
    {
        // Where no module labels sockets the kernel answers ENOPROTOOPT and the feature reports null.
        using var connections = new DetachedConnections();
        var connection = connections.Create(out _);
        connection.SetPeerCredentials(new PeerCredentials(1, 0, 0), null);
        var errno = Interop.Socket.GetPeerSecurityLabel(connection.Socket.Fd, out var raw);
        var feature = ((IFeatureCollection)connection).Get<IUnixPeerCredentialsFeature>()!;
        if (errno == Interop.Socket.ENOPROTOOPT)
        {
            Assert.Null(feature.SecurityLabel);
        }
        else
        {
            Assert.Equal(0, errno);
            Assert.Equal(PeerSecurityLabel.Parse(raw), feature.SecurityLabel);
        }
    }
}
