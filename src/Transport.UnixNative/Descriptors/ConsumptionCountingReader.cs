using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace Transport.UnixNative.Internal;

/// <summary>
/// The input pipe's reader, counting the bytes the application has consumed (advanced past): the
/// position that decides which received descriptors belong to the request being processed.
/// A read that waits completes through one reused source, so counting allocates nothing.
/// </summary>
internal sealed class ConsumptionCountingReader : PipeReader, IValueTaskSource<ReadResult>
{
    private readonly PipeReader _inner;
    private readonly Action _onInnerCompleted;
    private ManualResetValueTaskSourceCore<ReadResult> _pending = new() { RunContinuationsAsynchronously = false };
    private ConfiguredValueTaskAwaitable<ReadResult>.ConfiguredValueTaskAwaiter _innerAwaiter;
    private ReadOnlySequence<byte> _lastBuffer;
    private long _consumed;

    public ConsumptionCountingReader(PipeReader inner)
    {
        _inner = inner;
        _onInnerCompleted = OnInnerCompleted;
    }

    /// <summary>Bytes consumed so far.</summary>
    public long Consumed => Volatile.Read(ref _consumed);

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var read = _inner.ReadAsync(cancellationToken);
        if (read.IsCompletedSuccessfully)
        {
            var result = read.Result;
            _lastBuffer = result.Buffer;
            return new ValueTask<ReadResult>(result);
        }
        _pending.Reset();
        _innerAwaiter = read.ConfigureAwait(false).GetAwaiter();
        _innerAwaiter.UnsafeOnCompleted(_onInnerCompleted);
        return new ValueTask<ReadResult>(this, _pending.Version);
    }

    private void OnInnerCompleted()
    {
        try
        {
            var result = _innerAwaiter.GetResult();
            _lastBuffer = result.Buffer;
            _pending.SetResult(result);
        }
        catch (Exception ex)
        {
            _pending.SetException(ex);
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_inner.TryRead(out result))
        {
            _lastBuffer = result.Buffer;
            return true;
        }
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var count = _lastBuffer.Slice(0, consumed).Length;
        _lastBuffer = default;
        _inner.AdvanceTo(consumed, examined);
        Volatile.Write(ref _consumed, _consumed + count);
    }

    public override void CancelPendingRead() => _inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => _inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => _inner.CompleteAsync(exception);

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _pending.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _pending.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _pending.OnCompleted(continuation, state, token, flags & ~ValueTaskSourceOnCompletedFlags.FlowExecutionContext);
}
