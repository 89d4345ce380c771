using System.Globalization;

namespace Transport.UnixNative.Client.Tests.Infrastructure;

/// <summary>
/// nginx as an outside HTTP server on unix sockets: a child process with its own prefix and config in a
/// temp directory (<c>nginx -p dir -c conf -g 'daemon off;'</c>), killed and removed on dispose.
/// </summary>
public sealed class Nginx : IAsyncLifetime
{
    public const string StaticText = "static file served by nginx over a unix socket\n";

    private ExternalProcess? _process;

    public string Directory { get; } = TestPaths.NewDirectory();

    /// <summary>HTTP/1.1 endpoint.</summary>
    public string Socket => Path.Combine(Directory, "h1.sock");

    /// <summary>HTTP/2 cleartext (prior knowledge) endpoint.</summary>
    public string Http2Socket => Path.Combine(Directory, "h2.sock");

    /// <summary>A larger file, to see gzip at work.</summary>
    public string LargeText { get; } = string.Concat(Enumerable.Range(0, 2000).Select(i => $"line {i} of a compressible text\n"));

    public async Task InitializeAsync()
    {
        var nginx = Tools.Require("nginx");
        var www = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "www")).FullName;
        File.WriteAllText(Path.Combine(www, "static.txt"), StaticText);
        File.WriteAllText(Path.Combine(www, "large.txt"), LargeText);
        foreach (var file in System.IO.Directory.EnumerateFiles(www))
        {
            File.SetUnixFileMode(file, (UnixFileMode)0b110_100_100);
        }
        File.SetUnixFileMode(www, (UnixFileMode)0b111_101_101);
        var config = Path.Combine(Directory, "nginx.conf");
        // As root, workers would drop to nobody; "user root" keeps them able to read the temp dir.
        var user = Environment.IsPrivilegedProcess ? "user root;" : string.Empty;
        File.WriteAllText(config, string.Create(CultureInfo.InvariantCulture, $$"""
            {{user}}
            worker_processes 1;
            pid {{Directory}}/nginx.pid;
            error_log stderr notice;
            events { worker_connections 128; }
            http {
                access_log off;
                client_body_temp_path {{Directory}}/client_body;
                proxy_temp_path {{Directory}}/proxy;
                fastcgi_temp_path {{Directory}}/fastcgi;
                uwsgi_temp_path {{Directory}}/uwsgi;
                scgi_temp_path {{Directory}}/scgi;
                types { text/plain txt; }
                default_type application/octet-stream;
                gzip on;
                gzip_types text/plain;
                gzip_min_length 64;
                server {
                    listen unix:{{Socket}};
                    root {{www}};
                    location = /return { return 200 "nginx return 200\n"; }
                    location = /host { return 200 "$host $server_protocol\n"; }
                }
                server {
                    listen unix:{{Http2Socket}} http2;
                    root {{www}};
                    location = /host { return 200 "$host $server_protocol\n"; }
                }
            }
            """));
        _process = ExternalProcess.Start(nginx, ["-p", Directory, "-e", "stderr", "-c", config, "-g", "daemon off;"]);
        // nginx binds and listens before it starts its workers and says so: readiness without polling.
        await _process.WaitForLineAsync(line => line.Contains("start worker processes", StringComparison.Ordinal));
    }

    public async Task DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
        TestPaths.DeleteQuietly(Directory);
    }
}
