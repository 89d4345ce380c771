using System.Net;
using System.Text;
using System.Text.Json;
using Transport.UnixNative.Client;

namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>
/// Our client (<see cref="UnixSocketHttpHandler"/>) against servers nobody here wrote: nginx <c>listen unix:</c>
/// (h1 and h2c), Go's net/http (path and <c>@name</c>), aiohttp's <c>web.UnixSite</c>, and podman's API
/// service where podman runs.
/// </summary>
public sealed class ForeignServerTests
{
    /// <summary>aiohttp on a unix path: the routes the checks use, and a WebSocket echo at /ws.</summary>
    internal const string AiohttpServerScript = """
        import sys, asyncio, hashlib
        from aiohttp import web
        path = sys.argv[1]
        releases = {}
        def event(key): return releases.setdefault(key, asyncio.Event())
        async def plaintext(r): return web.Response(text="Hello, World!")
        async def conn(r): return web.Response(text=str(id(r.transport)))
        async def sha256(r):
            h, n = hashlib.sha256(), 0
            async for chunk in r.content.iter_chunked(65536):
                h.update(chunk); n += len(chunk)
            return web.Response(text=f"{n} {h.hexdigest()}")
        async def release(r):
            event(r.query["key"]).set()
            return web.Response(text="released")
        async def sse(r):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(r)
            await resp.write(b"data: one\n\n")
            await event(r.query["key"]).wait()
            await resp.write(b"data: two\n\n")
            await resp.write_eof()
            return resp
        async def ws(r):
            s = web.WebSocketResponse(max_msg_size=4 << 20)
            await s.prepare(r)
            async for m in s:
                if m.type == web.WSMsgType.TEXT: await s.send_str(m.data)
                elif m.type == web.WSMsgType.BINARY: await s.send_bytes(m.data)
            return s
        async def main():
            app = web.Application(client_max_size=64 << 20)
            app.add_routes([web.get("/plaintext", plaintext), web.get("/conn", conn), web.post("/sha256", sha256),
                            web.get("/release", release), web.get("/sse", sse), web.get("/ws", ws)])
            runner = web.AppRunner(app)
            await runner.setup()
            await web.UnixSite(runner, path).start()
            print("ready", path)
            await asyncio.Event().wait()
        asyncio.run(main())
        """;

    [ToolFact("nginx")]
    public async Task Nginx_ListenUnix_H1AndH2c()
    {
        using var dir = new PrivateDirectory();
        var www = Directory.CreateDirectory(dir.File("www")).FullName;
        var big = HttpChecks.Pattern(4 << 20);
        await File.WriteAllBytesAsync(Path.Combine(www, "big.bin"), big);
        var h1 = dir.File("h1.sock");
        var h2 = dir.File("h2.sock");
        var config = dir.Write("nginx.conf", $$"""
            user root;
            worker_processes 1;
            pid {{dir.Path}}/nginx.pid;
            error_log stderr notice;
            events { worker_connections 512; }
            http {
                access_log off;
                client_body_temp_path {{dir.Path}}/client_body;
                proxy_temp_path {{dir.Path}}/proxy;
                fastcgi_temp_path {{dir.Path}}/fastcgi;
                uwsgi_temp_path {{dir.Path}}/uwsgi;
                scgi_temp_path {{dir.Path}}/scgi;
                keepalive_requests 10000;
                server {
                    listen unix:{{h1}};
                    listen unix:{{h2}} http2;
                    root {{www}};
                    location = /plaintext { return 200 "Hello, World!"; }
                    location = /conn { return 200 "$connection"; }
                    location = /proto { return 200 "$server_protocol"; }
                }
            }
            """);
        await using var nginx = ExternalProcess.Start("nginx", ["-p", dir.Path, "-e", "stderr", "-c", config, "-g", "daemon off;"]);
        await nginx.WaitForLineAsync(line => line.Contains("start worker process", StringComparison.Ordinal));

        using var client = HttpChecks.Client(h1);
        Assert.True(await HttpChecks.ManyRequestsAsync(client) <= 2, "nginx saw a new connection per request: the pool was not used");
        Assert.Equal(big, await client.GetByteArrayAsync("/big.bin").DefaultTimeout());

        using var http2 = new HttpClient(UnixSocketHttpHandler.Create(h2, o => o.Http2PriorKnowledge = true)) { BaseAddress = new Uri("http://localhost") };
        Assert.Equal("HTTP/2.0", await http2.GetStringAsync("/proto").DefaultTimeout());
        Assert.True(await HttpChecks.ManyRequestsAsync(http2) == 1, "h2c: every request on one connection");
        Assert.Equal(big, await http2.GetByteArrayAsync("/big.bin").DefaultTimeout());
    }

    [ToolTheory("go")]
    [InlineData("path")]
    [InlineData("abstract")]
    public async Task Go_NetHttpServer(string kind)
    {
        var go = await GoProgram.BinaryAsync().Timeout(TimeSpan.FromMinutes(3));
        using var dir = new PrivateDirectory();
        var address = kind == "path" ? dir.File("go.sock") : "@" + TestPaths.AbstractName();
        await using var server = ExternalProcess.Start(go, ["server", address]);
        await server.WaitForLineAsync(line => line == "ready " + address);

        await ForeignChecksAsync(address);
    }

    [PythonFact("aiohttp")]
    public async Task Aiohttp_UnixSite()
    {
        using var dir = new PrivateDirectory();
        var path = dir.File("aiohttp.sock");
        await using var server = Python.Start(AiohttpServerScript, path);
        await server.WaitForLineAsync(line => line == "ready " + path);

        await ForeignChecksAsync(path);
        var key = await HttpChecks.WebSocketEchoAsync(path);
        Assert.NotEmpty(key);
    }

    /// <summary>
    /// podman's Docker-compatible API service, where podman runs: <c>/_ping</c>, <c>/version</c>, and <c>/events</c>
    /// streamed while a volume is created. Skips, with the reason, when podman is not installed or cannot run
    /// here, even under CI (a container may not allow it).
    /// </summary>
    [PodmanFact]
    public async Task Podman_ApiService_Ping_Version_Events()
    {
        using var dir = new PrivateDirectory();
        var socket = dir.File("podman.sock");
        await using var podman = ExternalProcess.Start("podman", [.. PodmanFactAttribute.Isolated(dir.Path), "system", "service", "--time=0", "unix://" + socket]);
        await podman.WaitForSocketAsync(socket);
        using var client = HttpChecks.Client(socket);

        Assert.Equal("OK", await client.GetStringAsync("/_ping").DefaultTimeout());
        using (var version = JsonDocument.Parse(await client.GetStringAsync("/version").DefaultTimeout()))
        {
            Assert.False(string.IsNullOrEmpty(version.RootElement.GetProperty("Version").GetString()));
            Assert.StartsWith("1.", version.RootElement.GetProperty("ApiVersion").GetString(), StringComparison.Ordinal);
        }

        var volume = "unx-" + TestPaths.Hex8();
        using var events = await client.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, events.StatusCode);
        using var reader = new StreamReader(await events.Content.ReadAsStreamAsync().DefaultTimeout());
        using (var created = await client.PostAsync("/volumes/create", new StringContent($$"""{"Name":"{{volume}}"}""", Encoding.UTF8, "application/json")).DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        // The event arrives on the stream that is still open: read lines until it does.
        while (true)
        {
            var line = await reader.ReadLineAsync().DefaultTimeout() ?? throw new InvalidOperationException("/events ended");
            if (line.Contains(volume, StringComparison.Ordinal) && line.Contains("\"create\"", StringComparison.Ordinal))
            {
                break;
            }
        }
        using var removed = await client.DeleteAsync($"/volumes/{volume}").DefaultTimeout();
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
    }

    private static async Task ForeignChecksAsync(string address)
    {
        using var client = HttpChecks.Client(address);
        Assert.True(await HttpChecks.ManyRequestsAsync(client) <= 2, "a new connection per request: the pool was not used");
        await HttpChecks.UploadAsync(client);
        await HttpChecks.ServerSentEventsAsync(client, HttpChecks.ReleaseOver(client));
    }
}

/// <summary>
/// Runs where podman runs: podman on PATH and <c>podman info</c> (isolated storage) succeeding. Otherwise it
/// skips with the reason, under CI too: podman may not run in CI's container (the issue's "where it runs").
/// </summary>
public sealed class PodmanFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> s_unavailable = new(Probe);

    public PodmanFactAttribute()
    {
        if (s_unavailable.Value is { } reason)
        {
            Skip = reason;
        }
    }

    /// <summary>Global options keeping podman's storage, run state and events in <paramref name="dir"/>.</summary>
    internal static string[] Isolated(string dir) =>
    [
        "--root", dir + "/root", "--runroot", dir + "/run", "--tmpdir", dir + "/tmp",
        "--storage-driver", "vfs", "--events-backend", "file",
    ];

    private static string? Probe()
    {
        if (Tools.Find("podman") is null)
        {
            return "podman is not installed (apt-get install podman); this test runs only where podman runs, CI included.";
        }
        using var dir = new PrivateDirectory();
        var result = ProcessRunner.RunAsync("podman", [.. Isolated(dir.Path), "info"]).GetAwaiter().GetResult();
        return result.ExitCode == 0 ? null : $"podman is installed but does not run here (podman info: exit {result.ExitCode}: {result.StandardError.Trim()}).";
    }
}
