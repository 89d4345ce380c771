using System.Text.Json;

namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>
/// Clients nobody here wrote, against our server and (the control) Kestrel's Sockets transport: Python httpx
/// and aiohttp over <c>uds</c>, Go's net/http with a unix dialer (path and <c>@name</c>), curl h2c.
/// Each: 100 sequential requests over its pool, 200 concurrent ones, a 4 MiB upload hashed server-side,
/// SSE read incrementally (the client itself releases the second event after reading the first).
/// </summary>
public sealed class ClientTests
{
    // httpx: a sync client for the pool and the stream, an async one for concurrency. "@name" is abstract.
    private const string HttpxScript = """
        import sys, json, hashlib, asyncio, httpx
        address, key = sys.argv[1], sys.argv[2]
        uds = "\0" + address[1:] if address.startswith("@") else address
        out = {}
        body = bytes(range(256)) * 16384
        with httpx.Client(transport=httpx.HTTPTransport(uds=uds), base_url="http://localhost", timeout=20) as c:
            out["sequential_connections"] = len({c.get("/conn").text for _ in range(100)})
            out["upload"] = c.post("/sha256", content=body).text == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
            with c.stream("GET", f"/sse?key={key}") as r:
                lines = r.iter_lines()
                first = next(lines)
                with httpx.Client(transport=httpx.HTTPTransport(uds=uds), base_url="http://localhost", timeout=20) as other:
                    other.get(f"/release?key={key}")
                next(lines)
                out["sse"] = first.strip() + "|" + next(lines).strip()
        async def concurrent():
            async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=uds), base_url="http://localhost", timeout=20) as c:
                rs = await asyncio.gather(*[c.get("/plaintext") for _ in range(200)])
                return sum(r.text == "Hello, World!" for r in rs)
        out["concurrent_ok"] = asyncio.run(concurrent())
        print(json.dumps(out))
        """;

    private const string AiohttpScript = """
        import sys, json, hashlib, asyncio, aiohttp
        address, key = sys.argv[1], sys.argv[2]
        uds = "\0" + address[1:] if address.startswith("@") else address
        body = bytes(range(256)) * 16384
        async def main():
            out = {}
            async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=uds, limit=16), timeout=aiohttp.ClientTimeout(total=20)) as s:
                async def text(path):
                    async with s.get("http://localhost" + path) as r:
                        return await r.text()
                out["sequential_connections"] = len({await text("/conn") for _ in range(100)})
                rs = await asyncio.gather(*[text("/plaintext") for _ in range(200)])
                out["concurrent_ok"] = sum(r == "Hello, World!" for r in rs)
                async with s.post("http://localhost/sha256", data=body) as r:
                    out["upload"] = await r.text() == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
                async with s.get(f"http://localhost/sse?key={key}") as r:
                    first = (await r.content.readline()).decode().strip()
                    await text(f"/release?key={key}")
                    await r.content.readline()
                    out["sse"] = first + "|" + (await r.content.readline()).decode().strip()
            print(json.dumps(out))
        asyncio.run(main())
        """;

    public static TheoryData<Backend> StreamBackends() => [Backend.Ours, Backend.OursAbstract, Backend.Sockets];

    [PythonTheory("httpx")]
    [MemberData(nameof(StreamBackends))]
    public async Task Httpx_Uds(Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend);
        AssertResults(await Python.RunAsync(HttpxScript, server.Address, TestPaths.Hex8()), concurrent: 200);
    }

    [PythonTheory("aiohttp")]
    [MemberData(nameof(StreamBackends))]
    public async Task Aiohttp_UnixConnector(Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend);
        AssertResults(await Python.RunAsync(AiohttpScript, server.Address, TestPaths.Hex8()), concurrent: 200);
    }

    [ToolTheory("go")]
    [MemberData(nameof(StreamBackends))]
    public async Task Go_NetHttp_UnixDialer(Backend backend)
    {
        var go = await GoProgram.BinaryAsync().Timeout(TimeSpan.FromMinutes(3));
        await using var server = await InteropServer.StartAsync(backend);
        var result = await ProcessRunner.RunAsync(go, ["client", server.Address, TestPaths.Hex8()]);
        Assert.True(result.ExitCode == 0, $"go client exit {result.ExitCode}: {result.StandardError}");
        AssertResults(result.StandardOutput, concurrent: 200);
    }

    /// <summary>curl with HTTP/2 prior knowledge, one request per connection (curl 7.88 fails a second h2c request on a reused connection, whatever the server).</summary>
    [ToolTheory("curl")]
    [MemberData(nameof(StreamBackends))]
    public async Task Curl_H2c(Backend backend)
    {
        await using var server = await InteropServer.StartAsync(backend, http2: true);
        using var dir = new PrivateDirectory();
        var socketArgs = server.Address.StartsWith('@') ? new[] { "--abstract-unix-socket", server.Address[1..] } : ["--unix-socket", server.Address];
        string[] h2c = ["-sS", "--max-time", "20", "--http2-prior-knowledge", .. socketArgs];

        for (var i = 0; i < 5; i++)
        {
            var proto = await ProcessRunner.RunAsync("curl", [.. h2c, "-w", " %{http_version}", "http://localhost/proto"]);
            Assert.True(proto.ExitCode == 0, proto.StandardError);
            Assert.Equal("HTTP/2 2", proto.StandardOutput);
        }

        var body = HttpChecks.Pattern(4 << 20);
        var file = dir.File("body.bin");
        await File.WriteAllBytesAsync(file, body);
        var upload = await ProcessRunner.RunAsync("curl", [.. h2c, "--data-binary", "@" + file, "http://localhost/sha256"]);
        Assert.True(upload.ExitCode == 0, upload.StandardError);
        Assert.Equal(HttpChecks.ExpectedHash(body), upload.StandardOutput);

        // SSE over h2c: curl prints the first event while the server still holds the second.
        var key = TestPaths.Hex8();
        await using var sse = ExternalProcess.Start("curl", [.. h2c, "-N", $"http://localhost/sse?key={key}"]);
        await sse.WaitForLineAsync(line => line == "data: one");
        server.Release(key);
        await sse.WaitForLineAsync(line => line == "data: two");
    }

    private static void AssertResults(string json, int concurrent)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        // A pool: 100 sequential requests on one connection (two if the first was closed, never one each).
        Assert.True(root.GetProperty("sequential_connections").GetInt32() <= 2, json);
        Assert.Equal(concurrent, root.GetProperty("concurrent_ok").GetInt32());
        Assert.True(root.GetProperty("upload").GetBoolean(), json);
        Assert.Equal("data: one|data: two", root.GetProperty("sse").GetString());
    }
}
