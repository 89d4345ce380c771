// Linked into every sample: a startup failure is one line on stderr and exit code 1, not a stack
// trace and SIGABRT (134). The library's exceptions keep their types; only the samples turn them
// into a line.
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

internal static class StartupErrors
{
    /// <summary>Runs the host; 0 when it ends normally, 1 (with one line on stderr) when it fails.</summary>
    public static async Task<int> RunAsync(Func<Task> runHost)
    {
        try
        {
            await runHost();
            return 0;
        }
        catch (Exception e) when (e is not HostAbortedException) // WebApplicationFactory stops the entry point with it
        {
            Console.Error.WriteLine(Describe(e));
            return 1;
        }
    }

    /// <summary>The host logs a failed start with its stack trace; the one line from <see cref="RunAsync"/> replaces it.</summary>
    public static void SilenceHostFailureLog(ILoggingBuilder logging)
        => logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);

    /// <summary>"APP: cannot start: WHAT (PATH, ERRNO). WHAT TO DO" on one line.</summary>
    public static string Describe(Exception e)
    {
        var app = AppDomain.CurrentDomain.FriendlyName;
        var root = e is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : e;
        // Kestrel wraps the transport's error ("Failed to bind to address …: address already in use");
        // the transport's own message names the path, the errno and the reason.
        while (root is IOException { InnerException: { } inner } && root.Message.StartsWith("Failed to bind to address", StringComparison.Ordinal))
        {
            root = inner;
        }
        var message = string.Join(' ', root.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        var hint = Hint(root);
        return $"{app}: cannot start: {message}{(hint is null ? "" : " " + hint)}";
    }

    private static string? Hint(Exception e)
    {
        if (e is DirectoryNotFoundException)
        {
            return "Create the directory first, or choose a path in an existing one.";
        }
        if (e is AddressInUseException)
        {
            return "Another server is listening there: stop it or choose another address.";
        }
        var errno = 0;
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                errno = socket.NativeErrorCode;
                break;
            }
        }
        return errno switch
        {
            2 => "Create the directory first, or choose a path in an existing one.",                  // ENOENT
            1 or 13 => "Run as a user allowed to write there, or choose another path.",                // EPERM, EACCES
            36 => "Use a shorter path (at most 107 bytes) or an @abstract name.",                       // ENAMETOOLONG
            98 => "Another server is listening there: stop it or choose another address.",            // EADDRINUSE
            _ when e is Microsoft.Extensions.Options.OptionsValidationException => "Fix the setting named above (command line, appsettings.json or environment).",
            _ => null,
        };
    }
}
