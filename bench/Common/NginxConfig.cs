using System.Globalization;

namespace Transport.UnixNative.Bench.Common;

/// <summary>
/// nginx as a reference server on the same unix socket: one process (<c>master_process off</c>,
/// so /proc of the pid we started holds all of its CPU time), answering <c>/plaintext</c> with
/// <c>return 200</c> and <c>/bytes/N</c> from a file of N bytes. A fresh prefix directory per run.
/// </summary>
internal sealed class NginxConfig : IDisposable
{
    private readonly string _directory;

    private NginxConfig(string directory, string executable)
    {
        _directory = directory;
        CommandLine = [executable, "-p", directory, "-c", Path.Combine(directory, "nginx.conf"), "-e", "stderr"];
    }

    public IReadOnlyList<string> CommandLine { get; }

    /// <summary>Writes the config for <paramref name="spec"/>, or returns null when nginx is not installed.</summary>
    public static NginxConfig? Create(ServerSpec spec)
    {
        var executable = new[] { "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx" }.FirstOrDefault(File.Exists);
        if (executable is null)
        {
            return null;
        }
        var directory = Directory.CreateTempSubdirectory("bench-nginx-").FullName;
        var bodyRoute = "";
        if (spec.BodyPath.StartsWith("/bytes/", StringComparison.Ordinal)
            && long.TryParse(spec.BodyPath["/bytes/".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var size))
        {
            var file = Path.Combine(directory, "body");
            using (var stream = File.Create(file))
            {
                var block = new byte[64 * 1024];
                Array.Fill(block, (byte)'x');
                for (var left = size; left > 0; left -= block.Length)
                {
                    stream.Write(block, 0, (int)Math.Min(left, block.Length));
                }
            }
            bodyRoute = $"location = {spec.BodyPath} {{ default_type application/octet-stream; alias {file}; }}";
        }
        var listen = $"unix:{spec.Listen.Path}" + (spec.Http2Only ? " http2" : "");
        File.WriteAllText(Path.Combine(directory, "nginx.conf"), $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{directory}}/nginx.pid;
            error_log stderr warn;
            worker_rlimit_nofile 65536;
            events { worker_connections 65536; }
            http {
                access_log off;
                keepalive_requests 100000000;
                keepalive_timeout 120s;
                client_body_temp_path {{directory}}/client_body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
                server {
                    listen {{listen}};
                    location = /plaintext { default_type text/plain; return 200 "Hello, World!"; }
                    {{bodyRoute}}
                }
            }
            """);
        return new NginxConfig(directory, executable);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a lingering process: /tmp keeps it, the run goes on.
        }
    }
}
