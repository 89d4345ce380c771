using System.Buffers;
using System.IO.Pipelines;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Core.Loop;
using Transport.UnixNative.Core.Pipes;

namespace Transport.UnixNative.Tests.Core.Pipes;

/// <summary>
/// The connection's input reader against <see cref="Pipe"/>, whose semantics Kestrel relies on: the same
/// operations in the same order must give the same results (bytes, canceled, completed, whether a read
/// waits), plus what a pipe does not promise: no memory held once everything was read.
/// </summary>
public sealed class ConnectionPipeTests : IDisposable
{
    private readonly CountingPool _pool = new();
    private readonly EventLoop _loop;
    private readonly ResumeRecorder _owner = new();

    public ConnectionPipeTests()
    {
        _loop = new EventLoop(0, new UnixNativeTransportOptions { MaxReadBufferSize = 0 }, _pool);
        _loop.Start();
    }

    public void Dispose() => _loop.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task RandomOperations_GiveWhatAPipeGives(int seed)
    {
        var random = new Random(seed);
        // Half the seeds with a read limit for ours: the writer pauses while the bytes not yet examined
        // reach it and resumes below half (a pipe's rule; its bookkeeping of "examined" differs in corner
        // cases after it empties, so the rule is checked on ours directly and the pipe never pauses).
        var limit = seed % 2 == 0 ? 6000 : 0;
        using var loop = new EventLoop(1, new UnixNativeTransportOptions { MaxReadBufferSize = limit }, _pool);
        loop.Start();
        var owner = new ResumeCounter();
        for (var run = 0; run < 60; run++)
        {
            var pipe = new Pipe(new PipeOptions(pool: _pool, readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
                pauseWriterThreshold: 0, useSynchronizationContext: false));
            var input = new ConnectionPipe(loop.InputSettings, owner);
            var paused = false;
            var resumesBefore = 0;
            long flushed = 0, examinedAt = 0, bufferStart = 0;
            var log = new List<string>();
            var reading = false;
            ReadResult pipeResult = default, inputResult = default;
            ValueTask<ReadResult>? pipePending = null, inputPending = null;
            long written = 0;
            for (var step = 0; step < 80; step++)
            {
                var op = random.Next(10);
                if (op <= 2 && !paused)
                {
                    var data = new byte[random.Next(0, 3) == 0 ? random.Next(0, 9000) : random.Next(0, 300)];
                    for (var i = 0; i < data.Length; i++)
                    {
                        data[i] = (byte)(written + i);
                    }
                    written += data.Length;
                    pipe.Writer.Write(data);
                    input.Write(data);
                    if (random.Next(3) != 0)
                    {
                        log.Add($"write {data.Length} + flush");
                        await pipe.Writer.FlushAsync().AsTask().DefaultTimeout();
                        var published = input.Publish();
                        flushed = written;
                        var shouldPause = limit > 0 && flushed - examinedAt >= limit;
                        Assert.True((published == PipeFlush.Paused) == shouldPause, Describe(log, $"{published} with {flushed - examinedAt} bytes not examined, limit {limit}"));
                        (paused, resumesBefore) = (shouldPause, owner.Resumes);
                    }
                    else
                    {
                        log.Add($"write {data.Length}");
                    }
                }
                else if (op == 3)
                {
                    log.Add("cancel pending read");
                    pipe.Reader.CancelPendingRead();
                    input.CancelPendingRead();
                }
                else if (pipePending is not null)
                {
                    continue; // a read waits: only the writer or a cancel can move it
                }
                else if (!reading && op <= 6)
                {
                    log.Add("read");
                    var p = pipe.Reader.ReadAsync();
                    var c = input.ReadAsync();
                    Assert.True(p.IsCompleted == c.IsCompleted, Describe(log, $"a read waits on one only (pipe done {p.IsCompleted}, ours {c.IsCompleted})"));
                    if (p.IsCompleted)
                    {
                        (pipeResult, inputResult, reading) = (await p, await c, true);
                        AssertSame(pipeResult, inputResult, log);
                    }
                    else
                    {
                        (pipePending, inputPending) = (p, c);
                    }
                }
                else if (!reading && op == 7)
                {
                    log.Add("try read");
                    var p = pipe.Reader.TryRead(out pipeResult);
                    var c = input.TryRead(out inputResult);
                    Assert.True(p == c, Describe(log, $"TryRead differs (pipe {p}, ours {c})"));
                    if (p)
                    {
                        reading = true;
                        AssertSame(pipeResult, inputResult, log);
                    }
                }
                else if (reading)
                {
                    var length = pipeResult.Buffer.Length;
                    var consumed = random.Next(3) == 0 ? length : random.NextInt64(0, length + 1);
                    var examined = random.Next(2) == 0 ? length : random.NextInt64(consumed, length + 1);
                    log.Add($"advance {consumed}/{examined} of {length}");
                    pipe.Reader.AdvanceTo(pipeResult.Buffer.GetPosition(consumed), pipeResult.Buffer.GetPosition(examined));
                    input.AdvanceTo(inputResult.Buffer.GetPosition(consumed), inputResult.Buffer.GetPosition(examined));
                    reading = false;
                    examinedAt = bufferStart + examined;
                    bufferStart += consumed;
                    if (paused)
                    {
                        await loop.RunAsync(() => { }).DefaultTimeout(); // a resumption was scheduled before this
                        var shouldResume = flushed - examinedAt < Math.Max(limit / 2, 1);
                        Assert.True((owner.Resumes > resumesBefore) == shouldResume, Describe(log, $"resumed {owner.Resumes > resumesBefore} with {flushed - examinedAt} bytes not examined"));
                        paused = !shouldResume;
                    }
                }

                if (pipePending is { } waitingPipe && inputPending is { } waitingInput)
                {
                    // Both complete, or neither: the writer or a cancel above may have released them.
                    await Task.Yield();
                    if (waitingPipe.IsCompleted)
                    {
                        pipeResult = await waitingPipe.AsTask().DefaultTimeout();
                        inputResult = await waitingInput.AsTask().DefaultTimeout();
                        (pipePending, inputPending, reading) = (null, null, true);
                        AssertSame(pipeResult, inputResult, log);
                    }
                }
            }

            if (reading)
            {
                pipe.Reader.AdvanceTo(pipeResult.Buffer.Start);
                input.AdvanceTo(inputResult.Buffer.Start);
            }
            log.Add("complete writer");
            pipe.Writer.Complete();
            input.CompleteWriter();
            if (pipePending is not null)
            {
                pipeResult = await pipePending.Value.AsTask().DefaultTimeout();
                inputResult = await inputPending!.Value.AsTask().DefaultTimeout();
                AssertSame(pipeResult, inputResult, log);
                pipe.Reader.AdvanceTo(pipeResult.Buffer.Start);
                input.AdvanceTo(inputResult.Buffer.Start);
            }
            // The end: everything left, then completed.
            pipeResult = await pipe.Reader.ReadAsync().AsTask().DefaultTimeout();
            inputResult = await input.ReadAsync().AsTask().DefaultTimeout();
            AssertSame(pipeResult, inputResult, log);
            Assert.True(inputResult.IsCompleted);
            input.AdvanceTo(inputResult.Buffer.End);
            pipe.Reader.AdvanceTo(pipeResult.Buffer.End);
            Assert.Equal(written, input.Consumed);
            Assert.Equal(0, input.SegmentCount);
            input.Complete();
            pipe.Reader.Complete();
        }
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public void EverythingRead_HoldsNoSegmentNorBlock()
    {
        var input = new ConnectionPipe(_loop.InputSettings, _owner);
        input.Write(new byte[10_000]);
        Assert.Equal(PipeFlush.Continue, input.Publish());
        Assert.Equal(3, input.SegmentCount);
        Assert.True(input.TryRead(out var result));
        input.AdvanceTo(result.Buffer.GetPosition(9_000));
        Assert.Equal(1, input.SegmentCount); // the consumed blocks went back at once
        Assert.True(input.TryRead(out result));
        input.AdvanceTo(result.Buffer.End);
        Assert.Equal(0, input.SegmentCount);
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(10_000, input.Consumed);
    }

    [Fact]
    public async Task WaitingRead_TokenCancels_ThenTheNextReadGetsTheData()
    {
        var input = new ConnectionPipe(_loop.InputSettings, _owner);
        using var cancel = new CancellationTokenSource();
        var read = input.ReadAsync(cancel.Token);
        Assert.False(read.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.AsTask()).DefaultTimeout();

        input.Write("abc"u8);
        input.Publish();
        var result = await input.ReadAsync(cancel.Token.IsCancellationRequested ? default : cancel.Token).AsTask().DefaultTimeout();
        Assert.Equal("abc"u8.ToArray(), result.Buffer.ToArray());
        Assert.False(result.IsCanceled);
        input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task WaitingRead_Published_CompletesOnTheApplicationScheduler()
    {
        var input = new ConnectionPipe(_loop.InputSettings, _owner);
        var read = input.ReadAsync();
        Assert.False(read.IsCompleted);
        await _loop.RunAsync(() =>
        {
            input.Write("hello"u8);
            input.Publish();
        }).DefaultTimeout();
        var result = await read.AsTask().DefaultTimeout();
        Assert.Equal("hello"u8.ToArray(), result.Buffer.ToArray());
        input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task WriterFailed_ReadThrowsItsError_EvenWithBytesLeft()
    {
        var input = new ConnectionPipe(_loop.InputSettings, _owner);
        input.Write("left"u8);
        input.Publish();
        var waiting = new ConnectionPipe(_loop.InputSettings, _owner);
        var read = waiting.ReadAsync();
        var error = new IOException("reset");
        input.CompleteWriter(error);
        waiting.CompleteWriter(error);
        Assert.Same(error, Assert.Throws<IOException>(() => input.TryRead(out _)));
        Assert.Same(error, await Assert.ThrowsAsync<IOException>(() => read.AsTask()).DefaultTimeout());
        input.Complete();
        Assert.Equal(0, input.SegmentCount);
    }

    [Fact]
    public async Task EndAfterExamined_AReadWithUnexaminedBytesIsNotTheLast()
    {
        // The peer's FIN behind a whole request body: the read that returns the body does not also say
        // "completed" (Kestrel would reject the body as truncated); the read after it has examined all does.
        var input = new ConnectionPipe(_loop.InputSettings, _owner);
        input.Write("head|body"u8);
        input.Publish();
        var first = await input.ReadAsync().AsTask().DefaultTimeout();
        Assert.False(first.IsCompleted);
        input.AdvanceTo(first.Buffer.GetPosition(5)); // the head consumed; the body not looked at
        input.CompleteWriterWhenExamined();
        var second = await input.ReadAsync().AsTask().DefaultTimeout();
        Assert.Equal("body", System.Text.Encoding.ASCII.GetString(second.Buffer.ToArray()));
        Assert.False(second.IsCompleted);
        input.AdvanceTo(second.Buffer.Start, second.Buffer.End); // examined, kept
        var third = await input.ReadAsync().AsTask().DefaultTimeout();
        Assert.True(third.IsCompleted);
        Assert.Equal(4, third.Buffer.Length);
        input.AdvanceTo(third.Buffer.End);

        // A reader waiting with everything examined sees the end at once.
        var waiting = new ConnectionPipe(_loop.InputSettings, _owner);
        var read = waiting.ReadAsync();
        Assert.False(read.IsCompleted);
        waiting.CompleteWriterWhenExamined();
        Assert.True((await read.AsTask().DefaultTimeout()).IsCompleted);
        input.Complete();
        waiting.Complete();
        Assert.Equal(0, input.SegmentCount);
    }

    [Fact]
    public async Task Aborted_AReadOverAnUnfinishedOne_EndsItInsteadOfThrowing()
    {
        var input = new ConnectionPipe(_loop.InputSettings, _owner);
        input.Write("body"u8);
        input.Publish();
        Assert.True(input.TryRead(out _)); // never advanced (a reader that threw in its AdvanceTo)
        Assert.Throws<InvalidOperationException>(() => input.ReadAsync());
        input.EndUnfinishedReadsOnRead();
        var error = new IOException("aborted");
        input.CompleteWriter(error);
        Assert.Same(error, await Assert.ThrowsAsync<IOException>(() => input.ReadAsync().AsTask()).DefaultTimeout());
        input.Complete();
        Assert.Equal(0, input.SegmentCount);
    }

    [Fact]
    public async Task Output_CancelWaitingFlush_CancelsOnlyAFlushThatWaits()
    {
        using var loop = new EventLoop(1, new UnixNativeTransportOptions { MaxWriteBufferSize = 100 }, _pool);
        loop.Start();
        var output = new ConnectionOutput(loop.OutputSettings);
        output.CancelWaitingFlush(); // none waits: no later flush is affected
        output.Write(new byte[500]);
        var flush = output.FlushAsync();
        Assert.False(flush.IsCompleted);
        output.CancelWaitingFlush();
        Assert.True((await flush.AsTask().DefaultTimeout()).IsCanceled);
        output.Reader.Complete();
        Assert.False((await output.FlushAsync().AsTask().DefaultTimeout()).IsCanceled);
        Assert.Equal(0, output.Reader.SegmentCount);
    }

    [Fact]
    public void Misuse_IsRefused_AsByAPipe()
    {
        var input = new ConnectionPipe(_loop.InputSettings, _owner);
        input.Write("x"u8);
        input.Publish();
        Assert.Throws<InvalidOperationException>(() => input.AdvanceTo(default));
        Assert.True(input.TryRead(out var result));
        Assert.Throws<InvalidOperationException>(() => input.TryRead(out _));
        Assert.Throws<InvalidOperationException>(() => input.ReadAsync());
        input.AdvanceTo(result.Buffer.End);
        input.Complete();
        Assert.Throws<InvalidOperationException>(() => input.TryRead(out _));
    }

    [Fact]
    public async Task OverTheLimit_PausesTheWriter_ResumedOnTheLoopOnceRead()
    {
        using var loop = new EventLoop(1, new UnixNativeTransportOptions { MaxReadBufferSize = 1000 }, _pool);
        loop.Start();
        var owner = new ResumeRecorder(loop);
        var input = new ConnectionPipe(loop.InputSettings, owner);
        input.Write(new byte[999]);
        Assert.Equal(PipeFlush.Continue, input.Publish());
        input.Write(new byte[1]);
        Assert.Equal(PipeFlush.Paused, input.Publish());

        Assert.True(input.TryRead(out var result));
        input.AdvanceTo(result.Buffer.GetPosition(500)); // 500 left: not below half
        Assert.False(owner.Resumed.Task.IsCompleted);
        Assert.True(input.TryRead(out result));
        input.AdvanceTo(result.Buffer.GetPosition(1)); // 499 left
        Assert.True(await owner.Resumed.Task.DefaultTimeout(), "resumed on the loop thread");
    }

    [Fact]
    public async Task PausedWriter_ReaderCompletes_WriterResumedAndToldNobodyReads()
    {
        using var loop = new EventLoop(1, new UnixNativeTransportOptions { MaxReadBufferSize = 10 }, _pool);
        loop.Start();
        var owner = new ResumeRecorder(loop);
        var input = new ConnectionPipe(loop.InputSettings, owner);
        input.Write(new byte[5000]);
        Assert.Equal(PipeFlush.Paused, input.Publish());
        input.Complete();
        Assert.True(await owner.Resumed.Task.DefaultTimeout());
        Assert.True(input.IsReaderCompleted);
        Assert.Equal(0, _pool.Outstanding);
        input.Write(new byte[100]);
        Assert.Equal(PipeFlush.ReaderCompleted, input.Publish());
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task LoopWritesWhileTheApplicationReads_EveryByteInOrder_NothingHeldAfter()
    {
        var input = new ConnectionPipe(_loop.InputSettings, _owner);
        const int total = 4 * 1024 * 1024;
        var writer = _loop.RunAsync(() => { }); // the loop is running
        await writer.DefaultTimeout();
        var random = new Random(7);
        var sizes = new List<int>();
        for (var sum = 0; sum < total;)
        {
            var size = Math.Min(random.Next(1, 20_000), total - sum);
            sizes.Add(size);
            sum += size;
        }
        var writing = Task.Run(async () =>
        {
            long position = 0;
            foreach (var size in sizes)
            {
                var chunk = new byte[size];
                for (var i = 0; i < size; i++)
                {
                    chunk[i] = (byte)((position + i) % 251);
                }
                position += size;
                await _loop.RunAsync(() =>
                {
                    input.Write(chunk);
                    input.Publish();
                }).DefaultTimeout();
            }
            await _loop.RunAsync(() => input.CompleteWriter()).DefaultTimeout();
        });

        long read = 0;
        while (true)
        {
            var result = await input.ReadAsync().AsTask().DefaultTimeout();
            var examinedAll = random.Next(4) != 0;
            var take = examinedAll ? result.Buffer.Length : result.Buffer.Length / 2;
            foreach (var segment in result.Buffer.Slice(0, take))
            {
                foreach (var b in segment.Span)
                {
                    Assert.Equal((byte)(read % 251), b);
                    read++;
                }
            }
            input.AdvanceTo(result.Buffer.GetPosition(take), result.Buffer.End);
            if (result.IsCompleted && read == total)
            {
                break;
            }
        }
        await writing.DefaultTimeout();
        Assert.Equal(total, input.Consumed);
        Assert.Equal(0, input.SegmentCount);
        input.Complete();
        Assert.Equal(0, _pool.Outstanding);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    public async Task Output_RandomWritesFlushesAndReads_GiveWhatAPipeGives(int seed)
    {
        // The output as Kestrel sees it: writes in steps, flushes that wait while 6,000 bytes are not
        // yet examined, cancelled flushes; the reader examines and consumes at random.
        var random = new Random(seed);
        const int limit = 6000;
        using var loop = new EventLoop(1, new UnixNativeTransportOptions { MaxWriteBufferSize = limit }, _pool);
        var settings = loop.OutputSettings with { ReaderScheduler = PipeScheduler.Inline, WriterScheduler = PipeScheduler.Inline };
        for (var run = 0; run < 60; run++)
        {
            var pipe = new Pipe(new PipeOptions(pool: _pool, readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
                pauseWriterThreshold: limit, resumeWriterThreshold: limit / 2, useSynchronizationContext: false));
            var output = new ConnectionOutput(settings);
            var log = new List<string>();
            ValueTask<FlushResult>? pipeFlush = null, ourFlush = null;
            long written = 0, bufferStart = 0, examinedAt = 0;
            for (var step = 0; step < 80; step++)
            {
                var op = random.Next(8);
                if (op <= 2 && pipeFlush is null)
                {
                    // Kestrel's way: one GetMemory, then Advance in steps within it.
                    var size = random.Next(1, 5000);
                    var p = pipe.Writer.GetMemory(size);
                    var o = output.GetMemory(size);
                    var steps = random.Next(1, 3);
                    for (var i = 0; i < steps; i++)
                    {
                        var n = Math.Min(size / steps, p.Length);
                        for (var b = 0; b < n; b++)
                        {
                            p.Span[b] = o.Span[b] = (byte)(written + b);
                        }
                        (p, o) = (p[n..], o[n..]);
                        pipe.Writer.Advance(n);
                        output.Advance(n);
                        written += n;
                    }
                    log.Add($"write {size} in {steps}");
                    Assert.Equal(pipe.Writer.UnflushedBytes, output.UnflushedBytes);
                    if (random.Next(2) == 0)
                    {
                        log.Add("flush");
                        var pf = pipe.Writer.FlushAsync();
                        var of = output.FlushAsync();
                        Assert.True(pf.IsCompleted == of.IsCompleted, Describe(log, $"a flush waits on one only (pipe done {pf.IsCompleted}, ours {of.IsCompleted})"));
                        if (pf.IsCompleted)
                        {
                            AssertSameFlush(await pf, await of, log);
                        }
                        else
                        {
                            (pipeFlush, ourFlush) = (pf, of);
                        }
                    }
                }
                else if (op == 3 && pipeFlush is not null)
                {
                    log.Add("cancel pending flush");
                    pipe.Writer.CancelPendingFlush();
                    output.CancelPendingFlush();
                }
                else if (op <= 6)
                {
                    var pr = pipe.Reader.TryRead(out var pipeResult);
                    var or = output.Reader.TryRead(out var ourResult);
                    Assert.True(pr == or, Describe(log, $"TryRead differs (pipe {pr}, ours {or})"));
                    if (pr)
                    {
                        AssertSame(pipeResult, ourResult, log);
                        var length = pipeResult.Buffer.Length;
                        var consumed = random.Next(3) == 0 ? length : random.NextInt64(0, length + 1);
                        // Examined never moves back (a pipe may throw; Kestrel never does it).
                        var examined = random.Next(2) == 0 ? length : random.NextInt64(Math.Max(consumed, examinedAt - bufferStart), length + 1);
                        (examinedAt, bufferStart) = (bufferStart + examined, bufferStart + consumed);
                        log.Add($"read {length}, advance {consumed}/{examined}");
                        pipe.Reader.AdvanceTo(pipeResult.Buffer.GetPosition(consumed), pipeResult.Buffer.GetPosition(examined));
                        output.Reader.AdvanceTo(ourResult.Buffer.GetPosition(consumed), ourResult.Buffer.GetPosition(examined));
                    }
                }
                if (pipeFlush is { } waitingPipe && ourFlush is { } waitingOurs)
                {
                    // Both go on, or neither: a read above may have brought both below half.
                    Assert.True(waitingPipe.IsCompleted == waitingOurs.IsCompleted, Describe(log, $"a flush goes on for one only (pipe {waitingPipe.IsCompleted}, ours {waitingOurs.IsCompleted})"));
                    if (waitingPipe.IsCompleted)
                    {
                        AssertSameFlush(await waitingPipe, await waitingOurs, log);
                        (pipeFlush, ourFlush) = (null, null);
                    }
                }
            }
            if (pipeFlush is not null)
            {
                pipe.Writer.CancelPendingFlush();
                output.CancelPendingFlush();
                AssertSameFlush(await pipeFlush.Value.AsTask().DefaultTimeout(), await ourFlush!.Value.AsTask().DefaultTimeout(), log);
            }
            pipe.Writer.Complete();
            output.Complete();
            var pipeEnd = await pipe.Reader.ReadAsync().AsTask().DefaultTimeout();
            var ourEnd = await output.Reader.ReadAsync().AsTask().DefaultTimeout();
            AssertSame(pipeEnd, ourEnd, log);
            pipe.Reader.AdvanceTo(pipeEnd.Buffer.End);
            output.Reader.AdvanceTo(ourEnd.Buffer.End);
            pipe.Reader.Complete();
            output.Reader.Complete();
            Assert.Equal(0, output.Reader.SegmentCount);
        }
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task Output_ReaderCompletes_WaitingFlushEndsCompleted_LaterFlushesToo()
    {
        using var loop = new EventLoop(1, new UnixNativeTransportOptions { MaxWriteBufferSize = 100 }, _pool);
        loop.Start();
        var output = new ConnectionOutput(loop.OutputSettings);
        output.Write(new byte[500]);
        var flush = output.FlushAsync();
        Assert.False(flush.IsCompleted);
        output.Reader.Complete();
        var result = await flush.AsTask().DefaultTimeout();
        Assert.True(result.IsCompleted);
        output.Write(new byte[10]);
        Assert.True((await output.FlushAsync().AsTask().DefaultTimeout()).IsCompleted);
        Assert.Equal(0, output.Reader.SegmentCount);
    }

    [Fact]
    public async Task Output_WaitingFlush_TokenCancels_AndTheReaderStillGetsTheBytes()
    {
        using var loop = new EventLoop(1, new UnixNativeTransportOptions { MaxWriteBufferSize = 100 }, _pool);
        loop.Start();
        var output = new ConnectionOutput(loop.OutputSettings);
        using var cancel = new CancellationTokenSource();
        output.Write(new byte[500]);
        var flush = output.FlushAsync(cancel.Token);
        Assert.False(flush.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => flush.AsTask()).DefaultTimeout();
        Assert.True(output.Reader.TryRead(out var read));
        Assert.Equal(500, read.Buffer.Length);
        output.Reader.AdvanceTo(read.Buffer.End);
        Assert.False((await output.FlushAsync().AsTask().DefaultTimeout()).IsCanceled);
    }

    [Fact]
    public async Task Output_WaitingReader_OnlyItsCallback_RunsOnTheReaderScheduler_WhenFlushed()
    {
        using var loop = new EventLoop(1, new UnixNativeTransportOptions(), _pool);
        loop.Start();
        var output = new ConnectionOutput(loop.OutputSettings);
        var woken = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.False(output.Reader.TryReadOrWait(out _, static state => ((TaskCompletionSource<object?>)state!).TrySetResult(state), woken));
        output.Write("hi"u8);
        Assert.False(woken.Task.IsCompleted); // written, not flushed
        await output.FlushAsync().AsTask().DefaultTimeout();
        await woken.Task.DefaultTimeout();
        Assert.True(output.Reader.TryRead(out var read));
        Assert.Equal("hi"u8.ToArray(), read.Buffer.ToArray());
        output.Reader.AdvanceTo(read.Buffer.End);
    }

    [Fact]
    public async Task Output_WriterAndReaderOnTwoThreads_EveryByteInOrder_NothingHeldAfter()
    {
        // Kestrel's writer (GetMemory, Advance in steps without the lock, FlushAsync that may wait)
        // against the send pump's reads on another thread, with a small limit so flushes wait often.
        using var loop = new EventLoop(1, new UnixNativeTransportOptions { MaxWriteBufferSize = 8192 }, _pool);
        loop.Start();
        var output = new ConnectionOutput(loop.OutputSettings);
        const int total = 4 * 1024 * 1024;
        var writing = Task.Run(async () =>
        {
            var random = new Random(21);
            long position = 0;
            while (position < total)
            {
                var memory = output.GetMemory(random.Next(0, 3000));
                var size = (int)Math.Min(Math.Min(memory.Length, random.Next(1, 9000)), total - position);
                var half = size / 2;
                for (var i = 0; i < size; i++)
                {
                    memory.Span[i] = (byte)((position + i) % 251);
                }
                output.Advance(half);
                output.Advance(size - half);
                position += size;
                if (random.Next(3) == 0 || position == total)
                {
                    var flushed = await output.FlushAsync().AsTask().DefaultTimeout();
                    Assert.False(flushed.IsCompleted);
                }
            }
            output.Complete();
        });

        var reading = Task.Run(async () =>
        {
            var random = new Random(22);
            long read = 0;
            while (true)
            {
                var result = await output.Reader.ReadAsync().AsTask().DefaultTimeout();
                var take = random.Next(4) == 0 ? result.Buffer.Length / 2 : result.Buffer.Length;
                foreach (var segment in result.Buffer.Slice(0, take))
                {
                    foreach (var b in segment.Span)
                    {
                        if (b != (byte)(read % 251))
                        {
                            throw new InvalidDataException($"byte {read} differs");
                        }
                        read++;
                    }
                }
                output.Reader.AdvanceTo(result.Buffer.GetPosition(take), result.Buffer.End);
                if (result.IsCompleted && read == total)
                {
                    return read;
                }
            }
        });

        await writing.DefaultTimeout();
        Assert.Equal(total, await reading.DefaultTimeout());
        Assert.Equal(0, output.Reader.SegmentCount);
        output.Reader.Complete();
        Assert.Equal(0, _pool.Outstanding);
    }

    private static void AssertSameFlush(FlushResult pipe, FlushResult ours, List<string> log)
    {
        Assert.True(pipe.IsCanceled == ours.IsCanceled, Describe(log, $"flush canceled: pipe {pipe.IsCanceled}, ours {ours.IsCanceled}"));
        Assert.True(pipe.IsCompleted == ours.IsCompleted, Describe(log, $"flush completed: pipe {pipe.IsCompleted}, ours {ours.IsCompleted}"));
    }

    private static void AssertSame(ReadResult pipe, ReadResult input, List<string> log)
    {
        Assert.True(pipe.IsCanceled == input.IsCanceled, Describe(log, $"canceled: pipe {pipe.IsCanceled}, ours {input.IsCanceled}"));
        Assert.True(pipe.IsCompleted == input.IsCompleted, Describe(log, $"completed: pipe {pipe.IsCompleted}, ours {input.IsCompleted}"));
        Assert.True(pipe.Buffer.Length == input.Buffer.Length, Describe(log, $"length: pipe {pipe.Buffer.Length}, ours {input.Buffer.Length}"));
        Assert.True(pipe.Buffer.ToArray().AsSpan().SequenceEqual(input.Buffer.ToArray()), Describe(log, "bytes differ"));
    }

    private static string Describe(List<string> log, string what) => $"{what} after: {string.Join(", ", log.TakeLast(12))}";

    private sealed class ResumeCounter : IResumableWriter
    {
        private int _resumes;

        public int Resumes => Volatile.Read(ref _resumes);

        public void OnWriterResumed() => Interlocked.Increment(ref _resumes);
    }

    private sealed class ResumeRecorder(EventLoop? loop = null) : IResumableWriter
    {
        public TaskCompletionSource<bool> Resumed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnWriterResumed() => Resumed.TrySetResult(loop?.IsCurrentThread ?? true);
    }

    /// <summary>Counts blocks rented and not yet returned.</summary>
    private sealed class CountingPool : MemoryPool<byte>
    {
        private int _outstanding;

        public int Outstanding => Volatile.Read(ref _outstanding);

        public override int MaxBufferSize => 4096;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        {
            Interlocked.Increment(ref _outstanding);
            return new Block(this, Shared.Rent(minBufferSize < 0 ? 4096 : minBufferSize));
        }

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Block(CountingPool pool, IMemoryOwner<byte> inner) : IMemoryOwner<byte>
        {
            private int _disposed;

            public Memory<byte> Memory => inner.Memory;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    inner.Dispose();
                    Interlocked.Decrement(ref pool._outstanding);
                }
            }
        }
    }
}
