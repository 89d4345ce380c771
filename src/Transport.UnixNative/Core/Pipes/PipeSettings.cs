using System.Buffers;
using System.IO.Pipelines;

namespace Transport.UnixNative.Core.Pipes;

/// <summary>
/// How one direction of an event loop's connections buffers (Kestrel's "per I/O queue" settings):
/// made once per loop and direction, shared by its connections.
/// </summary>
/// <param name="Pool">Where segments' blocks come from.</param>
/// <param name="BlockSize">The pool's block size.</param>
/// <param name="Segments">Segment objects for reuse.</param>
/// <param name="PauseThreshold">Bytes not yet examined at which the writer pauses (0: never).</param>
/// <param name="ResumeThreshold">Bytes not yet examined below which a paused writer goes on.</param>
/// <param name="ReaderScheduler">Where a waiting read's continuation runs.</param>
/// <param name="WriterScheduler">Where a paused writer is told to go on.</param>
internal sealed record PipeSettings(
    MemoryPool<byte> Pool,
    int BlockSize,
    PipeSegmentPool Segments,
    long PauseThreshold,
    long ResumeThreshold,
    PipeScheduler ReaderScheduler,
    PipeScheduler WriterScheduler);
