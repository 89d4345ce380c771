namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>What this process holds: open descriptors and the transport's I/O threads.</summary>
internal static class ProcessResources
{
    public static int OpenFds() => Directory.GetFileSystemEntries("/proc/self/fd").Length;

    /// <summary>
    /// Descriptors of the kinds the transport creates: sockets, epoll instances and eventfds. Unlike the
    /// total (the runtime maps assemblies and opens pipes as it goes), these only change when sockets or
    /// event loops come and go.
    /// </summary>
    /// <summary>No kind above <paramref name="baseline"/> (fewer is fine: a leak is what matters).</summary>
    public static bool TransportKindsAtMost((int Sockets, int Epolls, int EventFds) baseline)
    {
        var now = TransportKinds();
        return now.Sockets <= baseline.Sockets && now.Epolls <= baseline.Epolls && now.EventFds <= baseline.EventFds;
    }

    public static (int Sockets, int Epolls, int EventFds) TransportKinds()
    {
        int sockets = 0, epolls = 0, eventFds = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed while we looked
            }
            if (target is null)
            {
                continue;
            }
            if (target.StartsWith("socket:", StringComparison.Ordinal))
            {
                sockets++;
            }
            else if (target == "anon_inode:[eventpoll]")
            {
                epolls++;
            }
            else if (target == "anon_inode:[eventfd]")
            {
                eventFds++;
            }
        }
        return (sockets, epolls, eventFds);
    }

    /// <summary>Threads named "UnixNative I/O n" (Linux keeps the first 15 bytes of a thread name).</summary>
    public static int IoThreads()
    {
        var count = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith("UnixNative I/O", StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // The thread ended while we looked.
            }
        }
        return count;
    }

    public static string FdListing()
        => string.Join(", ", Directory.GetFileSystemEntries("/proc/self/fd").Select(fd =>
        {
            try
            {
                return $"{Path.GetFileName(fd)}->{new FileInfo(fd).LinkTarget}";
            }
            catch (IOException)
            {
                return Path.GetFileName(fd);
            }
        }));
}
