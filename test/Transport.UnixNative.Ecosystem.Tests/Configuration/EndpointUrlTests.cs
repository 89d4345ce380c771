using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Client;

namespace Transport.UnixNative.Ecosystem.Tests.Configuration;

/// <summary>
/// <c>Kestrel:Endpoints:NAME:Url</c> (environment, appsettings JSON, command line) means what <c>--urls</c> means:
/// every unix URL form is served on its unix socket by our transport, never turned into TCP port 80,
/// with the settings beside it (Protocols, SocketFileMode) applied to that endpoint; a URL the
/// transport cannot serve fails startup naming its key.
/// </summary>
public sealed class EndpointUrlTests
{
    public enum Source { Environment, Json, CommandLine }

    /// <summary>A host whose configuration holds <paramref name="settings"/> from <paramref name="source"/>, as an app would get them.</summary>
    private sealed class ConfiguredHost : IAsyncDisposable
    {
        private readonly List<string> _environment = [];
        private readonly string _json = $"/tmp/un-{TestPaths.Hex8()}.json";

        public ConfiguredHost(Source source, IReadOnlyDictionary<string, string> settings, bool reloadJson = false)
        {
            string[] args = [];
            var prefix = $"UNTEST{TestPaths.Hex8()}_";
            switch (source)
            {
                case Source.CommandLine:
                    args = settings.Select(s => $"--{s.Key}={s.Value}").ToArray();
                    break;
                case Source.Environment:
                    foreach (var (key, value) in settings)
                    {
                        var name = prefix + key.Replace(":", "__", StringComparison.Ordinal);
                        Environment.SetEnvironmentVariable(name, value);
                        _environment.Add(name);
                    }
                    break;
                case Source.Json:
                    WriteJson(settings);
                    break;
            }
            var builder = WebApplication.CreateSlimBuilder(args);
            builder.Logging.ClearProviders();
            if (source == Source.Environment)
            {
                // A prefix of its own, so parallel tests never see each other's variables.
                builder.Configuration.AddEnvironmentVariables(prefix);
            }
            if (source == Source.Json)
            {
                builder.Configuration.AddJsonFile(_json, optional: false, reloadOnChange: reloadJson);
            }
            builder.WebHost.UseUnixNativeTransport();
            builder.Services.AddSingleton<IConnectionListenerFactory>(sp => new RecordingFactory(sp));
            App = builder.Build();
            App.MapGet("/", (HttpContext context) => context.Request.Protocol);
        }

        public WebApplication App { get; }

        public RecordingFactory Binds => App.Services.GetServices<IConnectionListenerFactory>().OfType<RecordingFactory>().Single();

        public IReadOnlyCollection<string> Addresses
            => App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();

        public void WriteJson(IReadOnlyDictionary<string, string> settings)
        {
            // Nested objects from "A:B:C" keys.
            var root = new Dictionary<string, object>();
            foreach (var (key, value) in settings)
            {
                var node = root;
                var parts = key.Split(':');
                foreach (var part in parts[..^1])
                {
                    node = (Dictionary<string, object>)(node.TryGetValue(part, out var child) ? child : node[part] = new Dictionary<string, object>());
                }
                node[parts[^1]] = value;
            }
            var temp = _json + ".new";
            File.WriteAllText(temp, System.Text.Json.JsonSerializer.Serialize(root));
            File.Move(temp, _json, overwrite: true);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await App.StopAsync().DefaultTimeout();
            }
            catch (InvalidOperationException)
            {
                // Never started.
            }
            await App.DisposeAsync().AsTask().DefaultTimeout();
            foreach (var name in _environment)
            {
                Environment.SetEnvironmentVariable(name, null);
            }
            TestPaths.DeleteQuietly(_json);
        }
    }

    /// <summary>Our transport, recording each endpoint Kestrel asks it to bind (and whether that failed).</summary>
    internal sealed class RecordingFactory(IServiceProvider services) : IConnectionListenerFactory, IConnectionListenerFactorySelector
    {
        public Channel<(EndPoint EndPoint, Exception? Error)> Bound { get; } = Channel.CreateUnbounded<(EndPoint, Exception?)>();

        private UnixNativeTransportFactory Native => services.GetServices<IConnectionListenerFactory>().OfType<UnixNativeTransportFactory>().Single();

        public bool CanBind(EndPoint endpoint) => Native.CanBind(endpoint);

        public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
        {
            try
            {
                var listener = await Native.BindAsync(endpoint, cancellationToken);
                Bound.Writer.TryWrite((listener.EndPoint, null));
                return listener;
            }
            catch (Exception e)
            {
                Bound.Writer.TryWrite((endpoint, e));
                throw;
            }
        }
    }

    public static TheoryData<Source, string> Forms()
    {
        var data = new TheoryData<Source, string>();
        foreach (var source in Enum.GetValues<Source>())
        {
            foreach (var form in (string[])["path", "abstract", "seqpacket-path", "seqpacket-abstract"])
            {
                data.Add(source, form);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task EveryUrlForm_FromEverySource_ServedOnItsUnixSocket_NeverTcp80(Source source, string form)
    {
        var path = TestPaths.SocketPath();
        var name = TestPaths.AbstractName();
        var (url, address, seqpacket) = form switch
        {
            "path" => ($"http://unix:{path}", path, false),
            "abstract" => ($"http://unix:@{name}", "@" + name, false),
            "seqpacket-path" => ($"http://unix-seqpacket:{path}", path, true),
            _ => ($"http://unix-seqpacket:@{name}", "@" + name, true),
        };
        await using var host = new ConfiguredHost(source, new Dictionary<string, string> { ["Kestrel:Endpoints:Api:Url"] = url });
        try
        {
            await host.App.StartAsync().DefaultTimeout();

            using var http = Client(address, seqpacket);
            Assert.Equal("HTTP/1.1", await http.GetStringAsync("/").DefaultTimeout());
            var bound = await host.Binds.Bound.Reader.ReadAsync().AsTask().DefaultTimeout();
            Assert.Null(bound.Error);
            Assert.Equal(seqpacket ? "unix-seqpacket:" + address : address, bound.EndPoint.ToString());
            Assert.DoesNotContain(host.Addresses, a => a.Contains(":80", StringComparison.Ordinal));
            Assert.Empty(TcpListenersOfThisProcess(port: 80));
        }
        finally
        {
            TestPaths.DeleteQuietly(path);
        }
    }

    [Fact]
    public async Task ActivatedForm_GoesToTheTransport_WhichNamesTheMissingSocket()
    {
        await using var host = new ConfiguredHost(Source.CommandLine, new Dictionary<string, string> { ["Kestrel:Endpoints:Api:Url"] = "http://unix-fd:nosuch" });

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.App.StartAsync().DefaultTimeout());

        Assert.Contains("nosuch", error.Message, StringComparison.Ordinal);
        Assert.Empty(TcpListenersOfThisProcess(port: 80));
    }

    [Fact]
    public async Task ProtocolsBesideUrl_ApplyToThatEndpointOnly_AndEndpointDefaultsStillApply()
    {
        var path = TestPaths.SocketPath();
        var h2 = TestPaths.AbstractName();
        var byDefault = TestPaths.AbstractName();
        await using var host = new ConfiguredHost(Source.Json, new Dictionary<string, string>
        {
            ["Kestrel:Endpoints:H2:Url"] = $"http://unix:@{h2}",
            ["Kestrel:Endpoints:H2:Protocols"] = "Http2",
            ["Kestrel:Endpoints:H1:Url"] = $"http://unix:{path}",
            ["Kestrel:Endpoints:H1:Protocols"] = "Http1",
        });
        try
        {
            await host.App.StartAsync().DefaultTimeout();

            using (var http2 = Client("@" + h2, seqpacket: false, http2: true))
            {
                Assert.Equal("HTTP/2", await http2.GetStringAsync("/").DefaultTimeout());
            }
            using var http1 = Client(path, seqpacket: false);
            Assert.Equal("HTTP/1.1", await http1.GetStringAsync("/").DefaultTimeout());
        }
        finally
        {
            TestPaths.DeleteQuietly(path);
        }

        await using var defaults = new ConfiguredHost(Source.Environment, new Dictionary<string, string>
        {
            ["Kestrel:EndpointDefaults:Protocols"] = "Http2",
            ["Kestrel:Endpoints:A:Url"] = $"http://unix-seqpacket:@{byDefault}",
        });
        await defaults.App.StartAsync().DefaultTimeout();
        using var seqpacketHttp2 = Client("@" + byDefault, seqpacket: true, http2: true);
        Assert.Equal("HTTP/2", await seqpacketHttp2.GetStringAsync("/").DefaultTimeout());
    }

    [Fact]
    public async Task SocketFileModeBesideUrl_AppliesToThatSeqpacketFile()
    {
        using var paths = new TempPaths();
        var own = paths.SocketPath();
        var other = paths.SocketPath();
        await using var host = new ConfiguredHost(Source.Environment, new Dictionary<string, string>
        {
            ["Kestrel:Endpoints:Private:Url"] = "http://unix-seqpacket:" + own,
            ["Kestrel:Endpoints:Private:SocketFileMode"] = "0600",
            ["Kestrel:Endpoints:Shared:Url"] = "http://unix:" + other,
            ["Kestrel:Endpoints:Shared:SocketFileMode"] = "0660",
            ["Kestrel:Endpoints:Abstract:Url"] = "http://unix:@" + TestPaths.AbstractName(),
        });

        await host.App.StartAsync().DefaultTimeout();

        Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(own));
        Assert.Equal((UnixFileMode)0b110_110_000, File.GetUnixFileMode(other));
    }

    [Theory]
    [InlineData("http://unix:relative/path", "is relative")]
    [InlineData("http://unix:@", "needs a name")]
    [InlineData("http://unix:", "is relative")]
    [InlineData("http://unix-seqpacket:relative.seq", "is relative")]
    [InlineData("http://unix/tmp/x.sock", "names no unix socket")]
    [InlineData("http://unix:80", "is relative")]
    [InlineData("http://unix-fd:", "names no activated socket")]
    [InlineData("LONG", "ENAMETOOLONG")]
    public async Task UnservableUrl_FailsStartupNamingTheKey_NoTcpListener(string url, string expected)
    {
        if (url == "LONG")
        {
            url = "http://unix:/tmp/" + new string('x', 103);
        }
        foreach (var source in Enum.GetValues<Source>())
        {
            await using var host = new ConfiguredHost(source, new Dictionary<string, string> { ["Kestrel:Endpoints:Api:Url"] = url });

            var error = await Assert.ThrowsAsync<ArgumentException>(() => host.App.StartAsync().DefaultTimeout());

            Assert.StartsWith("Kestrel:Endpoints:Api:Url: ", error.Message, StringComparison.Ordinal);
            Assert.Contains(expected, error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error.Message);
            Assert.Empty(TcpListenersOfThisProcess(port: 80));
        }
    }

    [Fact]
    public async Task ReloadedAppsettings_NewUnixEndpointServedByUs_BadOneRefused_NeverTcp()
    {
        var path = TestPaths.SocketPath();
        var added = TestPaths.AbstractName();
        var settings = new Dictionary<string, string> { ["Kestrel:Endpoints:First:Url"] = "http://unix:" + path };
        await using var host = new ConfiguredHost(Source.Json, settings, reloadJson: true);
        try
        {
            await host.App.StartAsync().DefaultTimeout();
            Assert.Null((await host.Binds.Bound.Reader.ReadAsync().AsTask().DefaultTimeout()).Error);

            settings["Kestrel:Endpoints:Added:Url"] = $"http://unix:@{added}";
            host.WriteJson(settings);
            var rebound = await host.Binds.Bound.Reader.ReadAsync().AsTask().DefaultTimeout();
            Assert.Null(rebound.Error);
            Assert.Equal("@" + added, rebound.EndPoint.ToString());
            using (var http = Client("@" + added, seqpacket: false))
            {
                Assert.Equal("HTTP/1.1", await http.GetStringAsync("/").DefaultTimeout());
            }

            settings["Kestrel:Endpoints:Bad:Url"] = "http://unix:@";
            host.WriteJson(settings);
            var refused = await host.Binds.Bound.Reader.ReadAsync().AsTask().DefaultTimeout();
            Assert.Contains("Kestrel:Endpoints:Bad:Url: ", refused.Error?.Message, StringComparison.Ordinal);
            Assert.Empty(TcpListenersOfThisProcess(port: 80));
        }
        finally
        {
            TestPaths.DeleteQuietly(path);
        }
    }

    [Fact]
    public async Task SourceAddedAfterUseUnixNativeTransport_StillRewritten()
    {
        var name = TestPaths.AbstractName();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUnixNativeTransport();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Kestrel:Endpoints:Late:Url"] = $"http://unix:@{name}" });
        await using var app = builder.Build();
        app.MapGet("/", () => "late");

        await app.StartAsync().DefaultTimeout();
        try
        {
            using var http = Client("@" + name, seqpacket: false);
            Assert.Equal("late", await http.GetStringAsync("/").DefaultTimeout());
            Assert.Empty(TcpListenersOfThisProcess(port: 80));
        }
        finally
        {
            await app.StopAsync().DefaultTimeout();
        }
    }

    [Fact]
    public async Task GenericHost_EndpointFromConfiguration_Served()
    {
        var name = TestPaths.AbstractName();
        using var host = Host.CreateDefaultBuilder([$"--Kestrel:Endpoints:A:Url=http://unix-seqpacket:@{name}"])
            .ConfigureLogging(l => l.ClearProviders())
            .ConfigureWebHostDefaults(web => web
                .UseUnixNativeTransport()
                .Configure(app => app.Run(context => context.Response.WriteAsync("generic"))))
            .Build();

        await host.StartAsync().DefaultTimeout();
        try
        {
            using var http = Client("@" + name, seqpacket: true);
            Assert.Equal("generic", await http.GetStringAsync("/").DefaultTimeout());
            Assert.Empty(TcpListenersOfThisProcess(port: 80));
        }
        finally
        {
            await host.StopAsync().DefaultTimeout();
        }
    }

    private static HttpClient Client(string address, bool seqpacket, bool http2 = false)
        => new(UnixSocketHttpHandler.Create(address, o =>
        {
            o.SocketType = seqpacket ? SocketType.Seqpacket : SocketType.Stream;
            o.Http2PriorKnowledge = http2;
        }))
        { BaseAddress = new Uri("http://localhost") };

    /// <summary>Listening TCP sockets on <paramref name="port"/> whose inode is one of this process's descriptors.</summary>
    internal static List<string> TcpListenersOfThisProcess(int port) => TcpListenersOfProcess(Environment.ProcessId, port);

    /// <summary>Listening TCP sockets on <paramref name="port"/> whose inode is one of process <paramref name="pid"/>'s descriptors.</summary>
    internal static List<string> TcpListenersOfProcess(int pid, int port)
    {
        var ours = new HashSet<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    ours.Add(target[8..^1]);
                }
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }
        var found = new List<string>();
        foreach (var table in (string[])["/proc/net/tcp", "/proc/net/tcp6"])
        {
            foreach (var line in File.Exists(table) ? File.ReadLines(table).Skip(1) : [])
            {
                // sl local_address rem_address st … inode; st 0A is LISTEN.
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var localPort = int.Parse(fields[1].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (fields[3] == "0A" && localPort == port && ours.Contains(fields[9]))
                {
                    found.Add($"{table}: {line.Trim()}");
                }
            }
        }
        return found;
    }
}
