using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.SendFile;

/// <summary>The sendfile interop constants and cachestat structs against the C headers (cachestat only where the headers know it: Linux 6.5+).</summary>
public sealed class SendFileInteropTests
{
    private const string Program = $$"""
        #define _GNU_SOURCE
        #include <fcntl.h>
        #include <poll.h>
        #include <stddef.h>
        #include <stdio.h>
        #include <sys/stat.h>
        #include <sys/syscall.h>
        #include <linux/mman.h>
        {{CHeaders.PrintMacro}}
        int main(void) {
            P("POSIX_FADV_SEQUENTIAL", POSIX_FADV_SEQUENTIAL);
            P("POSIX_FADV_WILLNEED", POSIX_FADV_WILLNEED);
            P("POLLOUT", POLLOUT);
            P("AT_EMPTY_PATH", AT_EMPTY_PATH);
            P("S_IFREG", S_IFREG);
            P("pollfd.size", sizeof(struct pollfd));
            P("pollfd.revents", offsetof(struct pollfd, revents));
        #ifdef __NR_cachestat
            P("__NR_cachestat", __NR_cachestat);
            P("cachestat_range.size", sizeof(struct cachestat_range));
            P("cachestat.size", sizeof(struct cachestat));
            P("cachestat.nr_cache", offsetof(struct cachestat, nr_cache));
        #endif
            return 0;
        }
        """;

    [ToolFact("gcc")]
    public async Task Constants_and_structs_match_C()
    {
        var c = await CHeaders.CompileAndRunAsync(Program).DefaultTimeout();
            Assert.Equal(Interop.SendFile.POSIX_FADV_SEQUENTIAL, c["POSIX_FADV_SEQUENTIAL"]);
            Assert.Equal(Interop.SendFile.POSIX_FADV_WILLNEED, c["POSIX_FADV_WILLNEED"]);
            Assert.Equal(Interop.Poll.POLLOUT, c["POLLOUT"]);
            Assert.Equal(Interop.SendFile.AT_EMPTY_PATH, c["AT_EMPTY_PATH"]);
            Assert.Equal(Interop.SendFile.S_IFREG, c["S_IFREG"]);
            Assert.Equal(c["pollfd.size"], Marshal.SizeOf<PollFd>());
            Assert.Equal(c["pollfd.revents"], Marshal.OffsetOf<PollFd>(nameof(PollFd.Returned)).ToInt64());
            if (c.TryGetValue("__NR_cachestat", out var number))
            {
                Assert.Equal(451, number);
                Assert.Equal(c["cachestat_range.size"], Marshal.SizeOf<CacheStatRange>());
                Assert.Equal(c["cachestat.size"], Marshal.SizeOf<CacheStat>());
                Assert.Equal(c["cachestat.nr_cache"], Marshal.OffsetOf<CacheStat>(nameof(CacheStat.Cached)).ToInt64());
            }
    }

    [Fact]
    public void Cachestat_structs_have_the_kernel_ABI_sizes()
    {
        Assert.Equal(16, Marshal.SizeOf<CacheStatRange>());
        Assert.Equal(40, Marshal.SizeOf<CacheStat>());
    }

    [Fact]
    public void Cachestat_counts_the_pages_of_a_file_just_written()
    {
        var path = Path.Combine(Path.GetTempPath(), "un-sf-" + TestPaths.Hex8());
        try
        {
            File.WriteAllBytes(path, new byte[1 << 20]);
            using var file = File.OpenHandle(path);
            var pages = Interop.SendFile.CachedPages(file, 0, 1 << 20, out var errno);
            // Kernels before 6.5 (or a seccomp filter) refuse the call; the transport then sends from the thread pool.
            Assert.True(pages == (1 << 20) / Environment.SystemPageSize || errno != 0, $"pages {pages}, errno {errno}");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
