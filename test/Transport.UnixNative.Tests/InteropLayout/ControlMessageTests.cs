using System.Runtime.InteropServices;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Tests.InteropLayout;

/// <summary>SCM_RIGHTS encoding, and descriptors really crossing a socket pair.</summary>
public class ControlMessageTests
{
    [Fact]
    public void WriteThenRead_RoundTripsDescriptorsInOrder()
    {
        int[] fds = [7, 42, 1000];
        var control = new byte[ControlMessages.RightsSpace(fds.Length)];
        var used = ControlMessages.WriteRights(control, fds);
        Assert.Equal(control.Length, used);
        var read = new List<int>();
        Assert.Equal(3, ControlMessages.ReadRights(control, read));
        Assert.Equal(fds, read);
    }

    [Fact]
    public void Read_SkipsOtherKindsAndWalksEveryMessage()
    {
        // An SCM_CREDENTIALS message (12 bytes of ucred) before an SCM_RIGHTS one, as the kernel may send.
        var credentials = ControlMessages.Space(12);
        var control = new byte[credentials + ControlMessages.RightsSpace(2)];
        MemoryMarshal.Write(control, new ControlMessageHeader
        {
            Length = (nuint)ControlMessages.Length(12),
            Level = ControlMessages.SOL_SOCKET,
            Type = ControlMessages.SCM_CREDENTIALS,
        });
        ControlMessages.WriteRights(control.AsSpan(credentials), [5, 6]);
        var read = new List<int>();
        ControlMessages.ReadRights(control, read);
        Assert.Equal([5, 6], read);
    }

    [Fact]
    public void Read_StopsAtAMalformedLength()
    {
        var control = new byte[ControlMessages.RightsSpace(1)];
        ControlMessages.WriteRights(control, [9]);
        MemoryMarshal.Write(control, new ControlMessageHeader { Length = 4096, Level = ControlMessages.SOL_SOCKET, Type = ControlMessages.SCM_RIGHTS });
        var read = new List<int>();
        Assert.Equal(0, ControlMessages.ReadRights(control, read));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(ControlMessages.MaxDescriptorsPerMessage + 1)]
    public void Write_RefusesCountsTheKernelRefuses(int count)
    {
        var control = new byte[ControlMessages.RightsSpace(Math.Max(count, 1))];
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ControlMessages.WriteRights(control, new int[count]));
        Assert.Contains("253", error.Message);
    }

    [Theory]
    [InlineData(Interop.Socket.SOCK_STREAM)]
    [InlineData(Interop.Socket.SOCK_SEQPACKET)]
    public void DescriptorCrossesASocketPair_CloseOnExec(int type)
    {
        Assert.Equal(0, Interop.Socket.CreatePair(type, out var a, out var b));
        using (a)
        using (b)
        {
            var path = Path.Combine(Path.GetTempPath(), $"un-{Guid.NewGuid():N}"[..11]);
            File.WriteAllText(path, "passed by descriptor");
            try
            {
                using var file = File.OpenHandle(path);
                var fd = (int)file.DangerousGetHandle();
                Assert.Equal(1, Message.SendWithDescriptors(a, "x"u8, [fd, fd], out var errno));
                Assert.Equal(0, errno);

                var received = new List<SafeFdHandle>();
                var buffer = new byte[16];
                Assert.Equal(1, Message.ReceiveWithDescriptors(b, buffer, 4, received, out var flags, out errno));
                Assert.Equal(0, flags & ControlMessages.MSG_CTRUNC);
                Assert.Equal(2, received.Count);
                foreach (var handle in received)
                {
                    using (handle)
                    {
                        Assert.NotEqual(fd, handle.Fd);
                        Assert.Contains("FD_CLOEXEC", FdFlags(handle.Fd));
                        Assert.Equal("passed by descriptor", ReadFromStart(handle.Fd));
                    }
                }
            }
            finally
            {
                File.Delete(path);
            }
        }
    }

    [Fact]
    public void MoreDescriptorsThanRoom_ReportsCtruncAndKeepsWhatFits()
    {
        Assert.Equal(0, Interop.Socket.CreatePair(Interop.Socket.SOCK_SEQPACKET, out var a, out var b));
        using (a)
        using (b)
        {
            using var file = File.OpenHandle("/proc/self/stat");
            var fd = (int)file.DangerousGetHandle();
            Assert.Equal(1, Message.SendWithDescriptors(a, "x"u8, [fd, fd, fd, fd], out _));
            var received = new List<SafeFdHandle>();
            Assert.Equal(1, Message.ReceiveWithDescriptors(b, new byte[4], 1, received, out var flags, out _));
            Assert.NotEqual(0, flags & ControlMessages.MSG_CTRUNC);
            // CMSG_SPACE rounds up to 8 bytes: room for two ints; the kernel closes the rest.
            Assert.InRange(received.Count, 1, 2);
            received.ForEach(h => h.Dispose());
        }
    }

    private static string FdFlags(int fd)
    {
        // fdinfo's flags are octal open flags; O_CLOEXEC is 02000000.
        var line = File.ReadAllLines($"/proc/self/fdinfo/{fd}").First(l => l.StartsWith("flags:", StringComparison.Ordinal));
        var flags = Convert.ToInt64(line["flags:".Length..].Trim(), 8);
        return (flags & 0x80000) != 0 ? "FD_CLOEXEC" : line;
    }

    private static unsafe string ReadFromStart(int fd)
    {
        var buffer = new byte[64];
        fixed (byte* p = buffer)
        {
            var n = Pread(fd, p, (nuint)buffer.Length, 0);
            return System.Text.Encoding.UTF8.GetString(buffer, 0, (int)n);
        }
    }

    [DllImport("libc", EntryPoint = "pread")]
    private static extern unsafe nint Pread(int fd, byte* buffer, nuint count, long offset);
}
