using System.Globalization;
using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Unit;

/// <summary>What activation and hand-over use from libc (pollfd, fcntl's descriptor flags) against gcc's headers.</summary>
public class RestartInteropLayoutTests
{
    private const string Program = """
        #define _GNU_SOURCE
        #include <fcntl.h>
        #include <poll.h>
        #include <stddef.h>
        #include <stdio.h>
        #define P(name, value) printf("%s %zu\n", name, (size_t)(value))
        int main(void) {
            P("pollfd.size", sizeof(struct pollfd));
            P("pollfd.fd", offsetof(struct pollfd, fd));
            P("pollfd.events", offsetof(struct pollfd, events));
            P("pollfd.revents", offsetof(struct pollfd, revents));
            P("POLLIN", POLLIN);
            P("POLLOUT", POLLOUT);
            P("POLLERR", POLLERR);
            P("POLLHUP", POLLHUP);
            P("F_GETFD", F_GETFD);
            P("F_SETFD", F_SETFD);
            P("FD_CLOEXEC", FD_CLOEXEC);
            P("F_DUPFD_CLOEXEC", F_DUPFD_CLOEXEC);
            return 0;
        }
        """;

    [ToolFact("gcc")]
    public async Task PollFdAndDescriptorFlags_MatchC()
    {
        var dir = Directory.CreateTempSubdirectory("un-layout-");
        try
        {
            var source = Path.Combine(dir.FullName, "layout.c");
            var binary = Path.Combine(dir.FullName, "layout");
            await File.WriteAllTextAsync(source, Program);
            var compile = await ProcessRunner.RunAsync("gcc", ["-O0", "-o", binary, source], TimeSpan.FromSeconds(60));
            Assert.True(compile.ExitCode == 0, "gcc failed: " + compile.StandardError);
            var run = await ProcessRunner.RunAsync(binary, []);
            var c = run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' '))
                .ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));

            Assert.Equal(c["pollfd.size"], Marshal.SizeOf<PollFd>());
            Assert.Equal(c["pollfd.fd"], Marshal.OffsetOf<PollFd>(nameof(PollFd.Fd)).ToInt64());
            Assert.Equal(c["pollfd.events"], Marshal.OffsetOf<PollFd>(nameof(PollFd.Events)).ToInt64());
            Assert.Equal(c["pollfd.revents"], Marshal.OffsetOf<PollFd>(nameof(PollFd.Returned)).ToInt64());
            Same(c, "POLLIN", Interop.Poll.POLLIN);
            Same(c, "POLLOUT", Interop.Poll.POLLOUT);
            Same(c, "POLLERR", Interop.Poll.POLLERR);
            Same(c, "POLLHUP", Interop.Poll.POLLHUP);
            Same(c, "F_GETFD", Libc.F_GETFD);
            Same(c, "F_SETFD", Libc.F_SETFD);
            Same(c, "FD_CLOEXEC", Libc.FD_CLOEXEC);
            Same(c, "F_DUPFD_CLOEXEC", Libc.F_DUPFD_CLOEXEC);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static void Same(Dictionary<string, long> c, string name, long managed)
        => Assert.True(c[name] == managed, $"{name}: C says {c[name]}, the managed definition says {managed}");
}
