using Transport.UnixNative.Interop;
using Transport.UnixNative.Tests.Infrastructure;
using NativeSocket = Transport.UnixNative.Interop.Socket;
using Transport.UnixNative.Restart;

namespace Transport.UnixNative.Tests.Restart;

/// <summary>The LISTEN_* protocol in-process, with a test environment and descriptors placed where the variables say.</summary>
public sealed class SystemdActivationTests
{
    [Fact]
    public unsafe void Take_ForThisProcess_AdoptsUnixListeners_SetsCloseOnExec_AndRemovesTheVariables()
    {
        var path = TestPaths.SocketPath();
        var name = TestPaths.AbstractName();
        using var stream = Listening(NativeSocket.SOCK_STREAM, false, path);
        using var packet = Listening(NativeSocket.SOCK_SEQPACKET, true, name);
        using var file = File.OpenHandle(Path.GetTempFileName(), FileMode.Open, FileAccess.Read, FileShare.None, FileOptions.DeleteOnClose);
        try
        {
            // Consecutive and inheritable, as a launcher passes them (F_DUPFD: no close-on-exec).
            var first = Libc.fcntl(stream, 0 /* F_DUPFD */, 700);
            Assert.Equal(first + 1, Libc.fcntl(packet, 0, first + 1));
            using var third = new SafeFdHandle((int)file.DangerousGetHandle(), ownsHandle: false);
            Assert.Equal(first + 2, Libc.fcntl(third, 0, first + 2));
            var environment = new Dictionary<string, string>
            {
                ["LISTEN_PID"] = "4242",
                ["LISTEN_FDS"] = "3",
                ["LISTEN_FDNAMES"] = "web:admin:log",
            };

            var result = SystemdActivation.Take(n => environment.GetValueOrDefault(n), n => environment.Remove(n), 4242, first);

            Assert.Empty(environment);
            Assert.Collection(result.Sockets,
                s => Assert.Equal(("web", path, false, false, first), (s.FdName, s.Address.Name, s.Address.IsAbstract, s.Address.IsSeqpacket, s.Fd.Fd)),
                s => Assert.Equal(("admin", name, true, true, first + 1), (s.FdName, s.Address.Name, s.Address.IsAbstract, s.Address.IsSeqpacket, s.Fd.Fd)));
            Assert.Equal([(first + 2, "log")], result.Ignored);
            foreach (var fd in new[] { first, first + 1, first + 2 })
            {
                Assert.Equal(Libc.FD_CLOEXEC, Libc.fcntl_raw(fd, Libc.F_GETFD, 0) & Libc.FD_CLOEXEC);
            }
            foreach (var socket in result.Sockets)
            {
                socket.Fd.Dispose();
            }
            Libc.close(first + 2);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Take_ForAnotherProcess_TakesNothingAndLeavesTheVariables()
    {
        var environment = new Dictionary<string, string> { ["LISTEN_PID"] = "1", ["LISTEN_FDS"] = "2" };

        var result = SystemdActivation.Take(n => environment.GetValueOrDefault(n), n => environment.Remove(n), 4242);

        Assert.Empty(result.Sockets);
        Assert.Equal(2, environment.Count); // a child's variables: not ours to remove
    }

    private static unsafe SafeFdHandle Listening(int type, bool isAbstract, string name)
    {
        var handle = NativeSocket.Create(NativeSocket.AF_UNIX, type);
        Span<byte> address = stackalloc byte[SockAddrUn.Size];
        var length = SockAddrUn.Encode(isAbstract, name, address);
        fixed (byte* p = address)
        {
            Assert.Equal(0, NativeSocket.bind(handle, p, length));
        }
        Assert.Equal(0, NativeSocket.listen(handle, 4));
        return handle;
    }
}
