using Transport.UnixNative.Client;

namespace WebOverUds;

/// <summary>
/// <c>client &lt;url&gt; [--http2]</c>: GETs an <c>http+unix://</c>, <c>http+unix+seqpacket://</c> or plain
/// <c>http(s)://</c> URL, prints the body to stdout, and exits non-zero with the error on stderr on failure.
/// </summary>
internal static class ClientMode
{
    private const string Usage =
        "usage: WebOverUds client <url> [--http2] [--send-fd FILE]\n" +
        "  url      http+unix://%2Frun%2Fapp.sock/path   (socket path, percent-encoded)\n" +
        "           http+unix://%40name/path             (abstract address @name)\n" +
        "           http+unix+seqpacket://…              (SOCK_SEQPACKET socket)\n" +
        "           http://host:port/path                (plain TCP)\n" +
        "  --http2  HTTP/2 with prior knowledge (h2c); the server endpoint must be Http2-only\n" +
        "  --send-fd FILE  POST with FILE's open descriptor attached (SCM_RIGHTS), e.g. to /files/sha256";

    public static async Task<int> RunAsync(string[] args)
    {
        string? url = null;
        var http2 = false;
        string? sendFile = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg == "--send-fd" && i + 1 < args.Length)
            {
                sendFile = args[++i];
            }
            else if (arg == "--http2")
            {
                http2 = true;
            }
            else if (url is null && !arg.StartsWith('-'))
            {
                url = arg;
            }
            else
            {
                Console.Error.WriteLine($"unexpected argument '{arg}'\n{Usage}");
                return 2;
            }
        }
        if (url is null)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        // This process is ours alone: let Uri parse http+unix:// URLs (a process-wide registration).
        UnixSocketHttpHandler.RegisterUriSchemes();
        // One handler serves unix socket URLs and plain TCP URLs alike.
        using var http = new HttpClient(new UnixSocketHttpHandler(new UnixSocketClientOptions { Http2PriorKnowledge = http2 }));
        try
        {
            using var file = sendFile is null ? null : File.OpenHandle(sendFile);
            using var request = new HttpRequestMessage(file is null ? HttpMethod.Get : HttpMethod.Post, url);
            if (file is not null)
            {
                // The server reads the file through this descriptor, with our rights: nothing is uploaded.
                request.Options.Set(UnixSocketHttpHandler.DescriptorsOption, [file]);
            }
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if (!response.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"{request.Method} {url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}: {await response.Content.ReadAsStringAsync()}");
                return 1;
            }
            await using var body = await response.Content.ReadAsStreamAsync();
            await using var stdout = Console.OpenStandardOutput();
            await body.CopyToAsync(stdout);
            return 0;
        }
        catch (HttpRequestException e)
        {
            Console.Error.WriteLine($"GET {url}: {e.Message}");
            return 1;
        }
        catch (TaskCanceledException)
        {
            Console.Error.WriteLine($"GET {url}: no response within {http.Timeout.TotalSeconds:0} s.");
            return 1;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"--send-fd {sendFile}: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is UriFormatException or InvalidOperationException or ArgumentException)
        {
            Console.Error.WriteLine($"GET {url}: {e.Message}\n{Usage}");
            return 2;
        }
    }
}
