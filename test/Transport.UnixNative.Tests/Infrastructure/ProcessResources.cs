namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>What this process holds: open descriptors and the transport's I/O threads.</summary>
internal static class ProcessResources
{
    public static int OpenFds() => Directory.GetFileSystemEntries("/proc/self/fd").Length;

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
