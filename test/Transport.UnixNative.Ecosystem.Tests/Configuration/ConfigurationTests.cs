using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Transport.UnixNative.Ecosystem.Tests.Configuration;

/// <summary>UnixNativeTransportOptions from the Kestrel:UnixNative section and from Kestrel:Endpoints, validated on start.</summary>
public sealed class ConfigurationTests
{
    private static WebApplication Build(Dictionary<string, string?> settings, Action<UnixNativeTransportOptions>? code = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseUnixNativeTransport(code ?? (static _ => { }));
        var app = builder.Build();
        app.MapGet("/", () => "ok");
        return app;
    }

    [Fact]
    public async Task Section_SetsEveryOption_AndCodeWins()
    {
        var path = TestPaths.SocketPath();
        await using var app = Build(new()
        {
            ["Kestrel:UnixNative:IOThreadCount"] = "3",
            ["Kestrel:UnixNative:Backlog"] = "7",
            ["Kestrel:UnixNative:MaxReadBufferSize"] = "",
            ["Kestrel:UnixNative:MaxWriteBufferSize"] = "4096",
            ["Kestrel:UnixNative:UnsafePreferInlineScheduling"] = "true",
            ["Kestrel:UnixNative:AllowedUserIds:0"] = "0",
            ["Kestrel:UnixNative:AllowedUserIds:1"] = "1000",
            ["Kestrel:UnixNative:AllowedGroupIds"] = "5, 6",
            ["Kestrel:UnixNative:SocketFileMode"] = "0640",
            ["Kestrel:UnixNative:SocketFileGroup"] = "0",
            ["Kestrel:UnixNative:SocketFileOwner"] = "root",
            ["Kestrel:UnixNative:HandoverSocketPath"] = "/run/app/handover.sock",
            ["Kestrel:UnixNative:UseSystemdFileDescriptorStore"] = "true",
            ["Kestrel:UnixNative:UseSendFile"] = "false",
        }, code: o => o.Backlog = 9);

        var options = app.Services.GetRequiredService<IOptions<UnixNativeTransportOptions>>().Value;

        Assert.Equal(3, options.IOThreadCount);
        Assert.Equal(9, options.Backlog);
        Assert.Null(options.MaxReadBufferSize);
        Assert.Equal(4096, options.MaxWriteBufferSize);
        Assert.True(options.UnsafePreferInlineScheduling);
        Assert.Equal([0u, 1000u], options.AllowedUserIds!.Order());
        Assert.Equal([5u, 6u], options.AllowedGroupIds!.Order());
        Assert.Equal((UnixFileMode)0b110_100_000, options.SocketFileMode);
        Assert.Equal("0", options.SocketFileGroup);
        Assert.Equal("root", options.SocketFileOwner);
        Assert.Equal("/run/app/handover.sock", options.HandoverSocketPath);
        Assert.True(options.UseSystemdFileDescriptorStore);
        Assert.False(options.UseSendFile);
        TestPaths.DeleteQuietly(path);
    }

    [Theory]
    [InlineData("Kestrel:UnixNative:IOThreadCount", "0", "IOThreadCount (Kestrel:UnixNative:IOThreadCount) must be between 1 and 1024; it is 0.")]
    [InlineData("Kestrel:UnixNative:Backlog", "-1", "Backlog (Kestrel:UnixNative:Backlog) must be at least 1; it is -1.")]
    [InlineData("Kestrel:UnixNative:Backlog", "many", "Kestrel:UnixNative:Backlog: 'many' is not a whole number.")]
    [InlineData("Kestrel:UnixNative:SocketFileMode", "rw-rw----", "Kestrel:UnixNative:SocketFileMode: 'rw-rw----' is not a file mode")]
    [InlineData("Kestrel:UnixNative:Backlogg", "5", "Kestrel:UnixNative:Backlogg: unknown setting.")]
    [InlineData("Kestrel:UnixNative:AllowedUserIds", "0,bob", "Kestrel:UnixNative:AllowedUserIds: 'bob' is not a numeric id.")]
    [InlineData("Kestrel:UnixNative:MaxReceivedDescriptors", "0", "MaxReceivedDescriptors (Kestrel:UnixNative:MaxReceivedDescriptors) must be between 1 and half of RLIMIT_NOFILE")]
    [InlineData("Kestrel:UnixNative:MaxReceivedDescriptorsPerConnection", "0", "MaxReceivedDescriptorsPerConnection (Kestrel:UnixNative:MaxReceivedDescriptorsPerConnection) must be at least 1; it is 0.")]
    [InlineData("Kestrel:UnixNative:MaxReceivedDescriptorsPerUser", "0", "MaxReceivedDescriptorsPerUser (Kestrel:UnixNative:MaxReceivedDescriptorsPerUser) must be between 1 and MaxReceivedDescriptors (")]
    [InlineData("Kestrel:UnixNative:MaxReceivedDescriptorsPerUser", "5000", "MaxReceivedDescriptorsPerUser (Kestrel:UnixNative:MaxReceivedDescriptorsPerUser) must be between 1 and MaxReceivedDescriptors (")]
    [InlineData("Kestrel:Endpoints:A:ReceiveDescriptors", "yes", "Kestrel:Endpoints:A:ReceiveDescriptors: 'yes' is not true or false.")]
    public async Task BadSetting_FailsStartupWithItsName(string key, string value, string expected)
    {
        await using var app = Build(new() { [key] = value, ["Kestrel:Endpoints:A:Url"] = "http://unix:" + TestPaths.SocketPath() });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync().DefaultTimeout());

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModeWithSpecialBits_FromConfiguration_RefusedAtBindNamingThePath()
    {
        var path = TestPaths.SocketPath();
        await using var app = Build(new() { ["Kestrel:UnixNative:SocketFileMode"] = "4777", ["Kestrel:Endpoints:A:Url"] = "http://unix:" + path });

        var error = await Assert.ThrowsAsync<ArgumentException>(() => app.StartAsync().DefaultTimeout());

        Assert.Contains($"'{path}': SocketFileMode 04777 has bits other than permissions (0777)", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task BadValueFromCode_FailsStartupToo()
    {
        await using var app = Build([], o => o.MaxWriteBufferSize = -5);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync().DefaultTimeout());

        Assert.Contains("MaxWriteBufferSize (Kestrel:UnixNative:MaxWriteBufferSize) must be 0 or more", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EndpointSections_GiveEachSocketFileItsOwnMode()
    {
        using var paths = new TempPaths();
        var own = paths.SocketPath();
        var shared = paths.SocketPath();
        await using var app = Build(new()
        {
            ["Kestrel:UnixNative:SocketFileMode"] = "0660",
            ["Kestrel:Endpoints:Private:Url"] = "http://unix:" + own,
            ["Kestrel:Endpoints:Private:SocketFileMode"] = "0600",
            ["Kestrel:Endpoints:Shared:Url"] = "http://unix:" + shared,
        });

        await app.StartAsync().DefaultTimeout();
        try
        {
            Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(own));
            Assert.Equal((UnixFileMode)0b110_110_000, File.GetUnixFileMode(shared));
        }
        finally
        {
            await app.StopAsync().DefaultTimeout();
        }
    }

    [Theory]
    [InlineData("http://unix:@cfg-abstract", "an abstract address, which has no file")]
    [InlineData("http://127.0.0.1:0", "need a Url with a unix socket path")]
    public async Task EndpointSocketFileSettings_WithoutASocketFile_FailStartup(string url, string expected)
    {
        await using var app = Build(new()
        {
            ["Kestrel:Endpoints:Api:Url"] = url,
            ["Kestrel:Endpoints:Api:SocketFileMode"] = "0600",
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync().DefaultTimeout());

        Assert.Contains("Kestrel:Endpoints:Api:", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Descriptors_AreOffByDefault_AndOptedInBesideAUnixUrl_WithTheirLimits()
    {
        Assert.Empty(new UnixNativeTransportOptions().ReceiveDescriptorsOn);
        var defaults = new UnixNativeTransportOptions();
        Assert.InRange(defaults.MaxReceivedDescriptors, 1, 4096);
        Assert.Equal(1024, defaults.MaxReceivedDescriptorsPerConnection);
        Assert.Null(defaults.MaxReceivedDescriptorsPerUser); // half of the budget

        var app = Build(new()
        {
            ["Kestrel:UnixNative:MaxReceivedDescriptors"] = "100",
            ["Kestrel:UnixNative:MaxReceivedDescriptorsPerConnection"] = "10",
            ["Kestrel:UnixNative:MaxReceivedDescriptorsPerUser"] = "30",
            ["Kestrel:Endpoints:Files:Url"] = "http://unix:/run/app/files.sock",
            ["Kestrel:Endpoints:Files:ReceiveDescriptors"] = "true",
            ["Kestrel:Endpoints:Messages:Url"] = "http://unix-seqpacket:@messages",
            ["Kestrel:Endpoints:Messages:ReceiveDescriptors"] = "true",
            ["Kestrel:Endpoints:Plain:Url"] = "http://unix:/run/app/plain.sock",
            ["Kestrel:Endpoints:Plain:ReceiveDescriptors"] = "false",
        });
        var options = app.Services.GetRequiredService<IOptions<UnixNativeTransportOptions>>().Value;

        Assert.Equal(["/run/app/files.sock", "@messages"], options.ReceiveDescriptorsOn.Order(StringComparer.Ordinal));
        Assert.Equal(100, options.MaxReceivedDescriptors);
        Assert.Equal(10, options.MaxReceivedDescriptorsPerConnection);
        Assert.Equal(30, options.MaxReceivedDescriptorsPerUser);
    }

    [Fact]
    public async Task ReceiveDescriptors_BesideATcpUrl_FailsStartup()
    {
        await using var app = Build(new()
        {
            ["Kestrel:Endpoints:Api:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:Api:ReceiveDescriptors"] = "true",
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync().DefaultTimeout());

        Assert.Contains("Kestrel:Endpoints:Api:ReceiveDescriptors: needs a Url with a unix socket address", error.Message, StringComparison.Ordinal);
    }
}
