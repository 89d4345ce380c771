using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.InteropLayout;

/// <summary>What activation and hand-over use from libc (pollfd, fcntl's descriptor flags) against gcc's headers.</summary>
public class RestartInteropLayoutTests
{
    private const string Program = $$"""
        #define _GNU_SOURCE
        #include <fcntl.h>
        #include <poll.h>
        #include <stddef.h>
        #include <stdio.h>
        {{CHeaders.PrintMacro}}
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
        var c = await CHeaders.CompileAndRunAsync(Program).DefaultTimeout();
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

    private static void Same(CHeaders c, string name, long managed) => c.Same(name, managed);
}
