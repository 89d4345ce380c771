using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using Transport.UnixNative.Client;

namespace WebOverUds;

/// <summary>
/// <c>pair</c>: a socket pair instead of a socket file. The parent keeps one end, starts this sample as a
/// child serving HTTP on the other (inherited as a descriptor: no file, no abstract name), calls
/// <c>/plaintext</c> and <c>/whoami</c> over its end with HttpClient, then closes it, which ends the child.
/// </summary>
internal static class PairMode
{
    public static async Task<int> RunAsync(string[] args)
    {
        var (mine, childs) = UnixSocketPair.Create();
        Process child;
        using (childs)
        {
            UnixSocketPair.MakeInheritable(childs); // on purpose: only this end, only for this child
            var fd = (int)childs.SafeHandle.DangerousGetHandle();
            child = Process.Start(ChildStartInfo(["--listen-fd", fd.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args]))
                ?? throw new InvalidOperationException("Could not start the child process.");
        } // our copy of the child's end is closed: the child alone holds it now
        using (child)
        {
            try
            {
                using (var http = new HttpClient(UnixSocketHttpHandler.ForConnectedSocket(mine)) { BaseAddress = new Uri("http://localhost"), Timeout = TimeSpan.FromSeconds(30) })
                {
                    foreach (var path in (string[])["/plaintext", "/whoami"])
                    {
                        Console.WriteLine($"GET {path}: {(await http.GetStringAsync(path)).TrimEnd()}");
                    }
                } // closes our end: the child's only connection ends, and so does the child
                using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await child.WaitForExitAsync(exit.Token);
                return child.ExitCode == 0 ? 0 : child.ExitCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OperationCanceledException)
            {
                Console.Error.WriteLine($"pair: {e.Message}");
                return 1;
            }
            finally
            {
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                }
            }
        }
    }

    /// <summary>The child's side: serve descriptor <paramref name="fd"/> and stop when its one connection closes.</summary>
    public static void ServeInheritedSocket(WebApplicationBuilder builder, int fd)
    {
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        builder.WebHost.UseUrls(); // no other endpoint
        builder.WebHost.ConfigureKestrel(k => k.ListenConnectedHandle(handle, listen => listen.Use(next => async connection =>
        {
            try
            {
                await next(connection);
            }
            finally
            {
                _ = Task.Run(() => listen.ApplicationServices.GetRequiredService<IHostApplicationLifetime>().StopApplication());
            }
        })));
    }

    private static ProcessStartInfo ChildStartInfo(string[] args)
    {
        // `dotnet run` starts us as the apphost, `dotnet WebOverUds.dll` as dotnet: start the child the same way.
        var self = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo(self) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(PairMode).Assembly.Location);
        }
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        return info;
    }
}
