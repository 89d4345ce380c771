using System.Diagnostics;
using System.Text;

namespace Transport.UnixNative.Stress.Security;

/// <summary>
/// The suite's outside peers: small Python programs run as other users through <c>setpriv</c>, written to a
/// directory every user can read. Killed on dispose.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class SecurityPeers : IDisposable
{
    public const string OtherUser = "unx-other";
    public const string MemberUser = "unx-member";
    public const string Python = "/usr/bin/python3";

    private SecurityPeers(string directory) => Directory = directory;

    public string Directory { get; }

    public static SecurityPeers Create()
    {
        var directory = $"/tmp/unx-sec-{Guid.NewGuid():N}"[..21];
        System.IO.Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        var peers = new SecurityPeers(directory);
        foreach (var (name, text) in Scripts)
        {
            File.WriteAllText(peers.Script(name), text);
            File.SetUnixFileMode(peers.Script(name), (UnixFileMode)0b110_100_100);
        }
        return peers;
    }

    public string Script(string name) => Path.Combine(Directory, name);

    /// <summary>setpriv's arguments to run as <paramref name="user"/>: its own uid and gid, and its groups (or none).</summary>
    public static string[] As(string user, bool withGroups = false)
        => ["--reuid=" + user, "--regid=" + user, withGroups ? "--init-groups" : "--clear-groups", "--"];

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static readonly (string Name, string Text)[] Scripts =
    [
        ("flood.py", """
            # Holds GET /wait/86400 on each connection and pipelines writes carrying 253 /dev/null
            # descriptors that no request takes, round-robin, reconnecting whatever the server closes.
            import os, socket, sys, time
            path, conns, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
            null = [os.open('/dev/null', os.O_RDONLY) for _ in range(253)]
            wait = b'GET /wait/86400 HTTP/1.1\r\nHost: x\r\n\r\n'
            extra = b'GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n'
            sent = errors = reconnects = refused = 0
            def connect():
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(0.2)
                s.connect(path)
                s.sendall(wait)
                return s
            socks = [None] * conns
            end = time.monotonic() + seconds
            i = 0
            while time.monotonic() < end:
                k = i % conns
                i += 1
                try:
                    if socks[k] is None:
                        socks[k] = connect()
                        reconnects += 1
                    socket.send_fds(socks[k], [extra], null)
                    sent += 253
                except socket.timeout:
                    pass
                except OSError:
                    errors += 1
                    if socks[k] is None:
                        refused += 1
                    else:
                        try: socks[k].close()
                        except OSError: pass
                        socks[k] = None
                    time.sleep(0.005)
            print(f'connections {conns} descriptors-sent {sent} send-errors {errors} connects {reconnects} refused {refused}', flush=True)
            """),
        ("racer.py", """
            # Waits for a socket to appear at the path, then atomically replaces it with a symbolic link to
            # the victim (rename over it), hoping to land between the server's bind and its chmod. Until killed.
            import os, stat, sys
            path, victim = sys.argv[1], sys.argv[2]
            link = path + '.racer'
            print('racing', flush=True)
            while True:
                try:
                    if stat.S_ISSOCK(os.lstat(path).st_mode):
                        try: os.unlink(link)
                        except OSError: pass
                        os.symlink(victim, link)
                        os.rename(link, path)
                except OSError:
                    pass
            """),
        ("lockholder.py", """
            # Creates the lock file (or opens one already there) and holds an exclusive flock on it until killed.
            import fcntl, os, sys, time
            fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            print('locked', flush=True)
            while True: time.sleep(3600)
            """),
        ("probe.py", """
            # One GET /plaintext: prints 'in' when the server answered 200, else what happened.
            import errno, socket, sys
            kind, address = sys.argv[1], sys.argv[2]
            name = '\0' + address[1:] if address.startswith('@') else address
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if kind == 'seqpacket' else socket.SOCK_STREAM)
            s.settimeout(5)
            try:
                s.connect(name)
                s.send(b'GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n')
                head = s.recv(65536)
                print('in' if head.startswith(b'HTTP/1.1 200') else ('closed' if not head else 'answered ' + head[:12].decode('latin-1')))
            except socket.timeout:
                print('no answer')
            except OSError as e:
                print(errno.errorcode.get(e.errno, str(e.errno)))
            """),
    ];
}

/// <summary>A started outside program whose output is collected; killed (its whole group) on dispose.</summary>
internal sealed class PeerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private PeerProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static PeerProcess Start(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        var peer = new PeerProcess(new Process { StartInfo = info });
        peer._process.OutputDataReceived += (_, e) => peer.Append(e.Data);
        peer._process.ErrorDataReceived += (_, e) => peer.Append(e.Data);
        peer._process.Start();
        peer._process.BeginOutputReadLine();
        peer._process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>Runs to completion, or kills it after <paramref name="timeout"/>; returns the exit code (-1 if killed) and the output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var peer = Start(file, arguments);
        var exited = await peer.WaitForExitAsync(timeout, cancellationToken).ConfigureAwait(false);
        return (exited ? peer._process.ExitCode : -1, peer.Output.Trim());
    }

    /// <summary>The first line it printed (a peer says when it is ready), or null if it exited or the time ran out first.</summary>
    public async Task<string?> FirstLineAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var exited = _process.WaitForExitAsync(cancellationToken);
        var done = await Task.WhenAny(_firstLine.Task, exited, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
        return done == _firstLine.Task ? await _firstLine.Task.ConfigureAwait(false) : null;
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public bool HasExited => _process.HasExited;

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                // setpriv execs its command, so the pid is the peer itself.
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
        _firstLine.TrySetResult(line);
    }
}
