using Transport.UnixNative.Core.Connection;
using Transport.UnixNative.Tests.Core.Listener;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Tests.Seqpacket;

namespace Transport.UnixNative.Tests.Descriptors;

/// <summary>
/// One user's share of the process-wide budget (MaxReceivedDescriptorsPerUser): a user filling its share cannot
/// cut other users' descriptor senders. Alone, since every connection in this process counts against the budget.
/// </summary>
[Collection(nameof(ProcessResourcesCollection))]
public sealed class DescriptorUserShareTests
{
    // Run as unx-other: two connections, each sending 4 descriptors with a request left unfinished (so nobody takes
    // them); prints what each got back, then keeps both open until its stdin closes.
    private const string OtherUser = DescriptorLimitTests.Python + """

        fd = os.open('/dev/null', os.O_RDONLY)
        held = []
        for i in range(2):
            s = connect(sys.argv[1], socket.SOCK_STREAM); s.settimeout(10)
            socket.send_fds(s, [get(b'/fd/count') + b'GET /fd/count HTTP/1.1\r\n'], [fd] * 4)
            try:
                print(responses(s, 1)[0], flush=True)
            except (SystemExit, ConnectionResetError):
                print('closed', flush=True)
            held.append(s)
        sys.stdin.read()
        """;

    [UserSwitchingFact]
    public async Task AUserFillingItsShare_LeavesTheRestOfTheBudgetToOtherUsers()
    {
        var users = await TestUsers.GetAsync();
        // A budget of 8: each user's share defaults to half of it, 4.
        await using var host = await DescriptorHost.StartAsync(o =>
        {
            o.MaxReceivedDescriptors = 8;
            o.SocketFileMode = (UnixFileMode)0b110_110_110; // unx-other may connect
        });

        var output = await PythonPeer.RunAsync(DescriptorLimitTests.Python + """

            import subprocess
            stream, messages, uid, gid, child = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
            other = subprocess.Popen(['setpriv', '--reuid=' + uid, '--regid=' + gid, '--clear-groups', '/usr/bin/python3', '-c', child, stream],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            # The other user's first connection holds its 4; its second would pass the share and is cut.
            print(other.stdout.readline().strip()); print(other.stdout.readline().strip())
            # Meanwhile root (this process) still has room: 4 descriptors on a message connection.
            r = connect(messages); r.settimeout(10)
            socket.send_fds(r, [b'x'], [0] * 4); print(r.recv(256).decode())
            other.stdin.close(); other.wait(10)
            """, host.StreamPath, host.MessagesAddress, users.Other.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture),
            users.Other.Gid.ToString(System.Globalization.CultureInfo.InvariantCulture), OtherUser);

        // Before the share: "count:0\ncount:0\nb''", the other user held the whole budget and root was cut (event 102).
        Assert.Equal("count:0\nclosed\nok:4\n", output);
        // One error (the file mode also warns that it does not apply to the abstract address).
        var errors = host.Logs.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error).ToArray();
        var line = Assert.Single(errors);
        Assert.Equal(104, line.Id.Id);
        Assert.Contains($"user {users.Other.Uid} already holds its share of 4 received descriptors (MaxReceivedDescriptorsPerUser)", line.Message);
        await host.DisposeAsync();
        Assert.Equal(0, HeldDescriptors.ProcessHeld);
        Assert.Equal(0, HeldDescriptors.UsersHolding); // each closed connection let go of its user's entry
    }

    [Fact]
    public void TheUserShare_BoundsEveryConnectionOfAUser_AndCountsBackToZero()
    {
        const uint Uid = 4_000_000_001; // no real peer has it
        Assert.Equal(0, HeldDescriptors.UsersHolding);
        var a = new HeldDescriptors(budget: 1000, connectionCap: 100, userCap: 10);
        var b = new HeldDescriptors(budget: 1000, connectionCap: 100, userCap: 10);
        a.SetUser(Uid);
        b.SetUser(Uid);

        Assert.Equal(8, a.Reserve(8, out var limit));
        Assert.Equal(HeldDescriptors.Limit.PerReceive, limit);
        Assert.Equal(2, b.Reserve(8, out limit));
        Assert.Equal(HeldDescriptors.Limit.User, limit);
        Assert.Equal(0, b.Reserve(8, out limit));
        Assert.Equal(HeldDescriptors.Limit.User, limit);
        Assert.Equal(10, HeldDescriptors.HeldByUser(Uid));
        Assert.Equal(10, HeldDescriptors.ProcessHeld);

        // Another user (and peers without credentials, counted as one) still has its own share.
        var other = new HeldDescriptors(budget: 1000, connectionCap: 100, userCap: 10);
        other.SetUser(Uid + 1);
        var unknown = new HeldDescriptors(budget: 1000, connectionCap: 100, userCap: 10);
        Assert.Equal(8, other.Reserve(8, out _));
        Assert.Equal(8, unknown.Reserve(8, out _));
        Assert.Equal(8, HeldDescriptors.HeldByUser(null));
        Assert.Equal(3, HeldDescriptors.UsersHolding);

        a.Release(8);
        Assert.Equal(2, HeldDescriptors.HeldByUser(Uid));
        Assert.Equal(8, a.Reserve(8, out _));
        a.Release(8);
        b.Release(2);
        other.Release(8);
        unknown.Release(8);
        Assert.Equal(0, HeldDescriptors.HeldByUser(Uid));
        Assert.Equal(0, HeldDescriptors.ProcessHeld);

        // An entry stays while a connection of its user is open, and goes with the last one.
        a.Detach();
        other.Detach();
        unknown.Detach();
        Assert.Equal(1, HeldDescriptors.UsersHolding);
        b.Detach();
        Assert.Equal(0, HeldDescriptors.UsersHolding); // no entry left behind

        // A new connection of the same user starts a fresh entry, with the whole share.
        var c = new HeldDescriptors(budget: 1000, connectionCap: 100, userCap: 10);
        c.SetUser(Uid);
        Assert.Equal(10, c.Reserve(20, out _));
        c.Release(10);
        c.Detach();
        Assert.Equal(0, HeldDescriptors.UsersHolding);
    }

    [Fact]
    public void WhenTheBudgetIsShorterThanTheShare_TheUserGetsBackWhatItCouldNotUse()
    {
        const uint Uid = 4_000_000_002;
        var held = new HeldDescriptors(budget: 3, connectionCap: 100, userCap: 10);
        held.SetUser(Uid);

        Assert.Equal(3, held.Reserve(8, out var limit));
        Assert.Equal(HeldDescriptors.Limit.Budget, limit);
        Assert.Equal(3, HeldDescriptors.HeldByUser(Uid));
        Assert.Equal(0, held.Reserve(8, out limit));
        Assert.Equal(HeldDescriptors.Limit.Budget, limit);
        Assert.Equal(3, HeldDescriptors.HeldByUser(Uid));

        held.Release(3);
        Assert.Equal(0, HeldDescriptors.HeldByUser(Uid));
        held.Detach();
        Assert.Equal(0, HeldDescriptors.UsersHolding);
    }

    [Fact]
    public void FiftyThousandUsersComingAndGoing_LeaveNoEntries()
    {
        for (uint uid = 100_000; uid < 150_000; uid++)
        {
            var held = new HeldDescriptors(budget: 1000, connectionCap: 100, userCap: 10);
            held.SetUser(uid);
            Assert.Equal(1, held.Reserve(1, out _));
            held.Release(1);
            held.Detach();
        }
        Assert.Equal(0, HeldDescriptors.UsersHolding);
        Assert.Equal(0, HeldDescriptors.ProcessHeld);
    }

    [Fact]
    public void ConcurrentConnectionsOfOneUser_ComingAndGoing_NeverHoldMoreThanTheShare()
    {
        const uint Uid = 4_000_000_003;
        const int Share = 16;
        var over = 0;
        // Two workers keep one connection each; two open and close one per round (the entry comes and goes).
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, worker =>
        {
            HeldDescriptors? held = null;
            for (var i = 0; i < 20_000; i++)
            {
                if (held is null)
                {
                    held = new HeldDescriptors(budget: 1000, connectionCap: 100, userCap: Share);
                    held.SetUser(Uid);
                }
                var room = held.Reserve(7, out _);
                if (HeldDescriptors.HeldByUser(Uid) > Share)
                {
                    Interlocked.Increment(ref over);
                }
                held.Release(room);
                if (worker % 2 == 1)
                {
                    held.Detach();
                    held = null;
                }
            }
            held?.Detach();
        });
        Assert.Equal(0, over);
        Assert.Equal(0, HeldDescriptors.HeldByUser(Uid));
        Assert.Equal(0, HeldDescriptors.UsersHolding);
        Assert.Equal(0, HeldDescriptors.ProcessHeld);
    }
}
