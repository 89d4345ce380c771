using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.InteropLayout;

/// <summary>
/// The interop structs against the C library's own headers: a tiny C program prints sizeof/offsetof,
/// so a wrong field offset fails here instead of corrupting memory at run time.
/// </summary>
public class InteropLayoutTests
{
    private const string Program = $$"""
        #define _GNU_SOURCE
        #include <stddef.h>
        #include <stdio.h>
        #include <sys/epoll.h>
        #include <sys/file.h>
        #include <sys/resource.h>
        #include <sys/timerfd.h>
        #include <fcntl.h>
        #include <sys/socket.h>
        #include <sys/stat.h>
        #include <sys/uio.h>
        #include <sys/un.h>
        {{CHeaders.PrintMacro}}
        int main(void) {
            P("epoll_event.size", sizeof(struct epoll_event));
            P("epoll_event.events", offsetof(struct epoll_event, events));
            P("epoll_event.data", offsetof(struct epoll_event, data));
            P("msghdr.size", sizeof(struct msghdr));
            P("msghdr.msg_name", offsetof(struct msghdr, msg_name));
            P("msghdr.msg_namelen", offsetof(struct msghdr, msg_namelen));
            P("msghdr.msg_iov", offsetof(struct msghdr, msg_iov));
            P("msghdr.msg_iovlen", offsetof(struct msghdr, msg_iovlen));
            P("msghdr.msg_control", offsetof(struct msghdr, msg_control));
            P("msghdr.msg_controllen", offsetof(struct msghdr, msg_controllen));
            P("msghdr.msg_flags", offsetof(struct msghdr, msg_flags));
            P("iovec.size", sizeof(struct iovec));
            P("iovec.iov_base", offsetof(struct iovec, iov_base));
            P("iovec.iov_len", offsetof(struct iovec, iov_len));
            P("statx.size", sizeof(struct statx));
            P("statx.stx_mask", offsetof(struct statx, stx_mask));
            P("statx.stx_uid", offsetof(struct statx, stx_uid));
            P("statx.stx_gid", offsetof(struct statx, stx_gid));
            P("statx.stx_mode", offsetof(struct statx, stx_mode));
            P("statx.stx_ino", offsetof(struct statx, stx_ino));
            P("statx.stx_dev_major", offsetof(struct statx, stx_dev_major));
            P("statx.stx_dev_minor", offsetof(struct statx, stx_dev_minor));
            P("itimerspec.size", sizeof(struct itimerspec));
            P("itimerspec.it_value", offsetof(struct itimerspec, it_value));
            P("rlimit.size", sizeof(struct rlimit));
            P("rlimit.rlim_max", offsetof(struct rlimit, rlim_max));
            P("RLIMIT_NOFILE", RLIMIT_NOFILE);
            P("TFD_NONBLOCK", TFD_NONBLOCK);
            P("TFD_CLOEXEC", TFD_CLOEXEC);
            P("CLOCK_MONOTONIC", CLOCK_MONOTONIC);
            P("F_DUPFD_CLOEXEC", F_DUPFD_CLOEXEC);
            P("O_NOFOLLOW", O_NOFOLLOW);
            P("O_CREAT", O_CREAT);
            P("O_CLOEXEC", O_CLOEXEC);
            P("LOCK_EX", LOCK_EX);
            P("LOCK_NB", LOCK_NB);
            P("AT_EMPTY_PATH", AT_EMPTY_PATH);
            P("ucred.size", sizeof(struct ucred));
            P("ucred.pid", offsetof(struct ucred, pid));
            P("ucred.uid", offsetof(struct ucred, uid));
            P("ucred.gid", offsetof(struct ucred, gid));
            P("sockaddr_un.size", sizeof(struct sockaddr_un));
            P("sockaddr_un.sun_path", offsetof(struct sockaddr_un, sun_path));
            P("sun_path.size", sizeof(((struct sockaddr_un*)0)->sun_path));
            P("AF_UNIX", AF_UNIX);
            P("SOCK_SEQPACKET", SOCK_SEQPACKET);
            P("MSG_NOSIGNAL", MSG_NOSIGNAL);
            P("MSG_TRUNC", MSG_TRUNC);
            P("SO_PEERCRED", SO_PEERCRED);
            P("SO_DOMAIN", SO_DOMAIN);
            P("SO_ACCEPTCONN", SO_ACCEPTCONN);
            P("EPOLLRDHUP", EPOLLRDHUP);
            P("EPOLLET", EPOLLET);
            P("cmsghdr.size", sizeof(struct cmsghdr));
            P("cmsghdr.cmsg_len", offsetof(struct cmsghdr, cmsg_len));
            P("cmsghdr.cmsg_level", offsetof(struct cmsghdr, cmsg_level));
            P("cmsghdr.cmsg_type", offsetof(struct cmsghdr, cmsg_type));
            P("CMSG_LEN(4)", CMSG_LEN(4));
            P("CMSG_SPACE(4)", CMSG_SPACE(4));
            P("CMSG_SPACE(12)", CMSG_SPACE(12));
            P("CMSG_SPACE(1012)", CMSG_SPACE(1012));
            P("SCM_RIGHTS", SCM_RIGHTS);
            P("SCM_CREDENTIALS", SCM_CREDENTIALS);
            P("MSG_CTRUNC", MSG_CTRUNC);
            P("MSG_CMSG_CLOEXEC", MSG_CMSG_CLOEXEC);
            return 0;
        }
        """;

    private static readonly Lazy<Task<CHeaders>> s_c = new(() => CHeaders.CompileAndRunAsync(Program));

    private static async Task<CHeaders> C() => await s_c.Value.DefaultTimeout();

    private static long Offset<T>(string field) => CHeaders.Offset<T>(field);

    private static void Same(CHeaders c, string name, long managed) => c.Same(name, managed);

    [ToolFact("gcc")]
    public async Task EpollEvent_MatchesC()
    {
        var c = await C();
        var managed = Epoll.IsPacked ? Marshal.SizeOf<EpollEventPacked>() : Marshal.SizeOf<EpollEventAligned>();
        Same(c, "epoll_event.size", managed);
        Same(c, "epoll_event.size", Epoll.EventSize);
        var dataOffset = Epoll.IsPacked ? Offset<EpollEventPacked>(nameof(EpollEventPacked.Data)) : Offset<EpollEventAligned>(nameof(EpollEventAligned.Data));
        Same(c, "epoll_event.data", dataOffset);
        Same(c, "epoll_event.events", Offset<EpollEventPacked>(nameof(EpollEventPacked.Events)));
        Same(c, "EPOLLRDHUP", Epoll.EPOLLRDHUP);
        Same(c, "EPOLLET", Epoll.EPOLLET);
    }

    [Fact]
    public unsafe void EpollEvent_KnownSizes()
    {
        // x86-64's packed layout and everyone else's; both structs exist in every build.
        Assert.Equal(12, sizeof(EpollEventPacked));
        Assert.Equal(12, Marshal.SizeOf<EpollEventPacked>());
        Assert.Equal(4, Offset<EpollEventPacked>(nameof(EpollEventPacked.Data)));
        Assert.Equal(16, sizeof(EpollEventAligned));
        Assert.Equal(8, Offset<EpollEventAligned>(nameof(EpollEventAligned.Data)));
        Assert.Equal(RuntimeInformation.ProcessArchitecture == Architecture.X64, Epoll.IsPacked);
    }

    [ToolFact("gcc")]
    public async Task MessageHeaderAndIOVector_MatchC()
    {
        var c = await C();
        Same(c, "msghdr.size", Marshal.SizeOf<MessageHeader>());
        Same(c, "msghdr.msg_name", Offset<MessageHeader>(nameof(MessageHeader.Name)));
        Same(c, "msghdr.msg_namelen", Offset<MessageHeader>(nameof(MessageHeader.NameLength)));
        Same(c, "msghdr.msg_iov", Offset<MessageHeader>(nameof(MessageHeader.IOVectors)));
        Same(c, "msghdr.msg_iovlen", Offset<MessageHeader>(nameof(MessageHeader.IOVectorCount)));
        Same(c, "msghdr.msg_control", Offset<MessageHeader>(nameof(MessageHeader.Control)));
        Same(c, "msghdr.msg_controllen", Offset<MessageHeader>(nameof(MessageHeader.ControlLength)));
        Same(c, "msghdr.msg_flags", Offset<MessageHeader>(nameof(MessageHeader.Flags)));
        Same(c, "iovec.size", Marshal.SizeOf<IOVector>());
        Same(c, "iovec.iov_base", Offset<IOVector>(nameof(IOVector.Base)));
        Same(c, "iovec.iov_len", Offset<IOVector>(nameof(IOVector.Count)));
        Same(c, "MSG_NOSIGNAL", Message.MSG_NOSIGNAL);
        Same(c, "MSG_TRUNC", Message.MSG_TRUNC);
    }

    [Fact]
    public unsafe void MessageHeader_Lp64Layout()
    {
        Assert.Equal(56, sizeof(MessageHeader));
        Assert.Equal(new long[] { 0, 8, 16, 24, 32, 40, 48 }, new[]
        {
            Offset<MessageHeader>(nameof(MessageHeader.Name)),
            Offset<MessageHeader>(nameof(MessageHeader.NameLength)),
            Offset<MessageHeader>(nameof(MessageHeader.IOVectors)),
            Offset<MessageHeader>(nameof(MessageHeader.IOVectorCount)),
            Offset<MessageHeader>(nameof(MessageHeader.Control)),
            Offset<MessageHeader>(nameof(MessageHeader.ControlLength)),
            Offset<MessageHeader>(nameof(MessageHeader.Flags)),
        });
        Assert.Equal(16, sizeof(IOVector));
    }

    [ToolFact("gcc")]
    public async Task StatX_MatchesC()
    {
        var c = await C();
        Same(c, "statx.size", Marshal.SizeOf<StatX>());
        Same(c, "statx.stx_mask", Offset<StatX>(nameof(StatX.Mask)));
        Same(c, "statx.stx_uid", Offset<StatX>(nameof(StatX.Uid)));
        Same(c, "statx.stx_gid", Offset<StatX>(nameof(StatX.Gid)));
        Same(c, "statx.stx_mode", Offset<StatX>(nameof(StatX.Mode)));
        Same(c, "statx.stx_ino", Offset<StatX>(nameof(StatX.Inode)));
        Same(c, "statx.stx_dev_major", Offset<StatX>(nameof(StatX.DevMajor)));
        Same(c, "statx.stx_dev_minor", Offset<StatX>(nameof(StatX.DevMinor)));
    }

    [Fact]
    public unsafe void StatX_KnownLayout()
    {
        Assert.Equal(256, sizeof(StatX));
        Assert.Equal(28, Offset<StatX>(nameof(StatX.Mode)));
        Assert.Equal(32, Offset<StatX>(nameof(StatX.Inode)));
        Assert.Equal(136, Offset<StatX>(nameof(StatX.DevMajor)));
        Assert.Equal(140, Offset<StatX>(nameof(StatX.DevMinor)));
    }

    [ToolFact("gcc")]
    public async Task UCredAndSockAddrUn_MatchC()
    {
        var c = await C();
        Same(c, "ucred.size", Marshal.SizeOf<UCred>());
        Same(c, "ucred.pid", Offset<UCred>(nameof(UCred.Pid)));
        Same(c, "ucred.uid", Offset<UCred>(nameof(UCred.Uid)));
        Same(c, "ucred.gid", Offset<UCred>(nameof(UCred.Gid)));
        Same(c, "sockaddr_un.size", SockAddrUn.Size);
        Same(c, "sockaddr_un.sun_path", SockAddrUn.PathOffset);
        Same(c, "sun_path.size", SockAddrUn.PathCapacity);
        Same(c, "AF_UNIX", Interop.Socket.AF_UNIX);
        Same(c, "SOCK_SEQPACKET", Interop.Socket.SOCK_SEQPACKET);
        Same(c, "SO_PEERCRED", Interop.Socket.SO_PEERCRED);
        Same(c, "SO_DOMAIN", Interop.Socket.SO_DOMAIN);
        Same(c, "SO_ACCEPTCONN", Interop.Socket.SO_ACCEPTCONN);
    }

    [ToolFact("gcc")]
    public async Task TimerLockAndLimitInterop_MatchC()
    {
        var c = await C();
        Same(c, "itimerspec.size", Marshal.SizeOf<ITimerSpec>());
        Same(c, "itimerspec.it_value", Offset<ITimerSpec>(nameof(ITimerSpec.ValueSeconds)));
        Same(c, "rlimit.size", Marshal.SizeOf<RLimit>());
        Same(c, "rlimit.rlim_max", Offset<RLimit>(nameof(RLimit.Maximum)));
        Same(c, "RLIMIT_NOFILE", 7);
        Same(c, "TFD_NONBLOCK", TimerFd.TFD_NONBLOCK);
        Same(c, "TFD_CLOEXEC", TimerFd.TFD_CLOEXEC);
        Same(c, "CLOCK_MONOTONIC", TimerFd.CLOCK_MONOTONIC);
        Same(c, "F_DUPFD_CLOEXEC", Libc.F_DUPFD_CLOEXEC);
        Same(c, "O_NOFOLLOW", FileSystem.O_NOFOLLOW);
        Same(c, "O_CREAT", FileLock.O_CREAT);
        Same(c, "O_CLOEXEC", FileLock.O_CLOEXEC);
        Same(c, "LOCK_EX", FileLock.LOCK_EX);
        Same(c, "LOCK_NB", FileLock.LOCK_NB);
        Same(c, "AT_EMPTY_PATH", 0x1000);
    }

    [Fact]
    public unsafe void UCred_Is12Bytes()
    {
        Assert.Equal(12, sizeof(UCred));
        Assert.Equal(12, Marshal.SizeOf<UCred>());
    }

    [ToolFact("gcc")]
    public async Task ControlMessage_MatchesC()
    {
        var c = await C();
        Same(c, "cmsghdr.size", Marshal.SizeOf<ControlMessageHeader>());
        Same(c, "cmsghdr.cmsg_len", Offset<ControlMessageHeader>(nameof(ControlMessageHeader.Length)));
        Same(c, "cmsghdr.cmsg_level", Offset<ControlMessageHeader>(nameof(ControlMessageHeader.Level)));
        Same(c, "cmsghdr.cmsg_type", Offset<ControlMessageHeader>(nameof(ControlMessageHeader.Type)));
        Same(c, "CMSG_LEN(4)", ControlMessages.Length(4));
        Same(c, "CMSG_SPACE(4)", ControlMessages.RightsSpace(1));
        Same(c, "CMSG_SPACE(12)", ControlMessages.RightsSpace(3));
        Same(c, "CMSG_SPACE(1012)", ControlMessages.RightsSpace(ControlMessages.MaxDescriptorsPerMessage));
        Same(c, "SCM_RIGHTS", ControlMessages.SCM_RIGHTS);
        Same(c, "SCM_CREDENTIALS", ControlMessages.SCM_CREDENTIALS);
        Same(c, "MSG_CTRUNC", ControlMessages.MSG_CTRUNC);
        Same(c, "MSG_CMSG_CLOEXEC", Message.MSG_CMSG_CLOEXEC);
    }
}
