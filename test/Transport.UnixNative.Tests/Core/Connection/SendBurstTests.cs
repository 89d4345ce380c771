using System.Buffers.Binary;
using System.Diagnostics;
using Transport.UnixNative.Tests.Infrastructure;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>
/// The send pump reads again after each send, and a read that finds bytes already flushed completes at
/// once. That must stay a loop: a pump that called itself for each would dive down the stack (a
/// variant that did was measured here at 4,500 to 5,000 frames deep).
/// </summary>
public sealed class SendBurstTests
{
    [Fact]
    public async Task TwentyThousandTinyFlushesBackToBack_AllArriveInOrder()
    {
        const int Responses = 20_000;
        const int Size = sizeof(long);
        // A writer that may buffer only two responses, resumed inline by the send pump's AdvanceTo:
        // it flushes the next ones before the pump reads again, so that read completes at once, and
        // so on (runs of 1,000 to 2,000 such reads in a row were counted on a busy two-core machine).
        // Resumed inline, this writer runs on the pump's own stack, so it can see how deep that is.
        await using var server = await TransportServer.StartAsync(seqpacket: false, options =>
        {
            options.MaxWriteBufferSize = 2 * Size;
            options.UnsafePreferInlineScheduling = true;
        });
        using var client = await UnixClient.ConnectSocketAsync(server.Address);
        await using var connection = await server.AcceptAsync();

        var received = ReceiveAsync(client, Responses * Size);
        var output = connection.Transport.Output;
        using var timeout = new CancellationTokenSource(TimeoutExtensions.DefaultTimeoutValue);
        var deepestStack = 0;
        for (long i = 0; i < Responses; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(output.GetSpan(Size), i);
            output.Advance(Size);
            // Awaited as it is (bounded by the token), so the send pump resumes this writer inline.
            var result = await output.FlushAsync(timeout.Token);
            Assert.False(result.IsCompleted, $"The transport stopped reading after {i} responses.");
            if (i % 8 == 0)
            {
                deepestStack = Math.Max(deepestStack, new StackTrace(fNeedFileInfo: false).FrameCount);
            }
        }
        // A loop stays a few dozen frames deep wherever it runs; a pump calling itself per read goes thousands deep.
        Assert.True(deepestStack < 400, $"The writer was resumed {deepestStack} frames deep.");

        var bytes = await received.DefaultTimeout();
        for (var i = 0; i < Responses; i++)
        {
            var value = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(i * Size));
            Assert.True(value == i, $"Response {i} arrived as {value}.");
        }
    }

    private static async Task<byte[]> ReceiveAsync(System.Net.Sockets.Socket client, int length)
    {
        var bytes = new byte[length];
        var got = 0;
        while (got < length)
        {
            var n = await client.ReceiveAsync(bytes.AsMemory(got));
            Assert.True(n > 0, $"The connection ended after {got} of {length} bytes.");
            got += n;
        }
        return bytes;
    }
}
