using System.Net;

namespace Transport.UnixNative.Client.Tests;

/// <summary>
/// The entry point when this assembly runs as a child process (<c>dotnet exec</c>): a fresh process shows a
/// process-wide side effect that the order of tests in this one would hide. The test host never calls it.
/// </summary>
internal static class ChildProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args is not ["plain-client-after-handler", var url])
        {
            await Console.Error.WriteLineAsync("usage: plain-client-after-handler <url>");
            return 2;
        }
        // Constructing handlers is all this process does with the library.
        using (new UnixSocketHttpHandler())
        using (UnixSocketHttpHandler.Create("/tmp/un-child.sock"))
        {
        }
        using var http = new HttpClient(new SocketsHttpHandler()) { Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            using var response = await http.GetAsync(new Uri(url));
            Console.WriteLine($"status {(int)response.StatusCode}");
            return 0;
        }
        catch (HttpRequestException e)
        {
            Console.WriteLine($"HttpRequestException {e.Message}");
            return 0;
        }
#pragma warning disable CA1031 // Any other type is the defect this reports.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Console.WriteLine($"{e.GetType().FullName} {e.Message}");
            return 3;
        }
    }
}
