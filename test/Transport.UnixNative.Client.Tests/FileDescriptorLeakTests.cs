using System.Runtime;
using Transport.UnixNative.Client.Tests.Infrastructure;

namespace Transport.UnixNative.Client.Tests;

/// <summary>Counts this process's open files, so nothing else may run meanwhile.</summary>
[CollectionDefinition(nameof(FileDescriptorLeakTests), DisableParallelization = true)]
public sealed class FileDescriptorLeakCollection;

[Collection(nameof(FileDescriptorLeakTests))]
public sealed class FileDescriptorLeakTests
{
    // Sockets only: the runtime may meanwhile map assemblies or add file watchers for earlier tests' hosts.
    private static HashSet<string> Sockets()
        => Native.OpenFileDescriptors().Where(fd => fd.Value.StartsWith("socket:", StringComparison.Ordinal)).Select(fd => $"{fd.Key} -> {fd.Value}").ToHashSet();

    [Fact]
    public async Task FailedAndCancelledConnects_LeaveNoFileDescriptorOpen()
    {
        var missing = TestPaths.UnixUrl(TestPaths.SocketPath(), "/");
        var stale = TestPaths.SocketPath();
        NativeSocket.BindListenAndCloseWithoutUnlink(stale, seqpacket: false);
        var refused = TestPaths.UnixUrl(stale, "/");
        var nobody = TestPaths.UnixUrl(TestPaths.AbstractAddress(), "/");
        await using var backlog = await FullBacklog.CreateAsync();
        var full = TestPaths.UnixUrl(backlog.Path, "/");
        // Refused connects on a client of their own: under load one can outlast a 20 ms ConnectTimeout.
        using var http = new HttpClient(new UnixSocketHttpHandler());
        using var timingOut = new HttpClient(new UnixSocketHttpHandler(new(), new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromMilliseconds(20) }));

        async Task FailAllAsync()
        {
            foreach (var url in (string[])[missing, refused, nobody])
            {
                await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(url)).DefaultTimeout();
            }
            await Assert.ThrowsAsync<TaskCanceledException>(() => timingOut.GetAsync(full)).DefaultTimeout();
            using var cancel = new CancellationTokenSource(5);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => timingOut.GetAsync(full, cancel.Token)).DefaultTimeout();
        }

        try
        {
            await FailAllAsync(); // warm up: the runtime opens what it needs once
            var before = Sockets();
            // Hold off the GC, whose finalizers would close leaked sockets and hide the leak.
            var noGc = GC.TryStartNoGCRegion(200_000_000);
            for (var i = 0; i < 50; i++)
            {
                await FailAllAsync();
            }
            var after = Sockets();
            if (noGc && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
            {
                GC.EndNoGCRegion();
            }

            // 250 failed connects of every kind: one leaked socket each would show as hundreds here.
            var opened = after.Except(before).ToArray();
            Assert.True(after.Count <= before.Count,
                $"{after.Count - before.Count} more sockets open after 250 failed connects ({before.Count} before, {after.Count} after); new: {string.Join(", ", opened)}");
        }
        finally
        {
            File.Delete(stale);
        }
    }
}
