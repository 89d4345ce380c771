using System.Buffers;
using CsCheck;
using Transport.UnixNative.Core.Connection;

namespace Transport.UnixNative.Tests.Core.Connection;

/// <summary>
/// The 4-byte length framing of whole-message connections (UnixMessageFeature): any sequence of
/// messages, empty ones included, comes back unchanged however the pipe cuts the bytes into segments.
/// </summary>
public class MessageFramingPropertyTests
{
    // Empty and tiny messages are the edge cases: draw them often, not once in 3000.
    private static readonly Gen<byte[]> Message = Gen.OneOf(Gen.Const(Array.Empty<byte>()), Gen.Byte.Array[1, 8], Gen.Byte.Array[0, 3000]);

    private static readonly Gen<byte[][]> Messages = Message.Array[0, 12];

    [Fact]
    public void AnyMessages_WrittenAsFrames_ReadBackUnchanged_WhateverTheSegmentCuts()
        => Gen.Select(Messages, Gen.Int[0, 1 << 16].Array[0, 10]).Sample((messages, cuts) =>
        {
            var writer = new ArrayBufferWriter<byte>();
            foreach (var message in messages)
            {
                UnixMessageFeature.WriteFrame(writer, message);
            }
            var buffer = Segmented(writer.WrittenMemory, cuts);

            foreach (var message in messages)
            {
                Assert.True(UnixMessageFeature.TryReadFrame(ref buffer, out var read, out _));
                Assert.Equal(message, read);
            }
            Assert.True(buffer.IsEmpty);
            Assert.False(UnixMessageFeature.TryReadFrame(ref buffer, out _, out _));
        });

    [Fact]
    public void AnyProperPrefixOfAFrame_IsNotAFrame_AndIsLeftUntouched()
        => Gen.Select(Message, Gen.Int[0, int.MaxValue], Gen.Int[0, 1 << 16].Array[0, 4]).Sample((message, at, cuts) =>
        {
            var writer = new ArrayBufferWriter<byte>();
            UnixMessageFeature.WriteFrame(writer, message);
            var prefix = writer.WrittenMemory[..(at % writer.WrittenCount)];
            var buffer = Segmented(prefix, cuts);

            Assert.False(UnixMessageFeature.TryReadFrame(ref buffer, out _, out _));
            Assert.Equal(prefix.Length, buffer.Length);
        });

    [Fact]
    public void AnyLength_InTheHeader_IsReadBack_AndANegativeOneIsCorrupt() // bit 30 flags descriptors beside the frame
        => Gen.OneOf(Gen.Const(0), Gen.Int).Sample(length =>
        {
            var header = new byte[UnixMessageFeature.HeaderSize];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header, length);
            var buffer = new ReadOnlySequence<byte>(header);
            if (length < 0)
            {
                Assert.Throws<InvalidDataException>(() => UnixMessageFeature.TryReadLength(buffer, out _, out _));
            }
            else
            {
                Assert.True(UnixMessageFeature.TryReadLength(buffer, out var read, out var hasDescriptors));
                Assert.Equal(length & ~UnixMessageFeature.DescriptorsFlag, read);
                Assert.Equal((length & UnixMessageFeature.DescriptorsFlag) != 0, hasDescriptors);
            }
        });

    /// <summary>The bytes as a sequence of segments cut at the given offsets (as a pipe hands them over).</summary>
    private static ReadOnlySequence<byte> Segmented(ReadOnlyMemory<byte> bytes, int[] cuts)
    {
        var offsets = cuts.Select(c => bytes.Length == 0 ? 0 : c % (bytes.Length + 1)).Append(0).Append(bytes.Length).Distinct().Order().ToArray();
        if (offsets.Length <= 2)
        {
            return new ReadOnlySequence<byte>(bytes);
        }
        Segment? first = null, last = null;
        for (var i = 0; i + 1 < offsets.Length; i++)
        {
            var piece = bytes[offsets[i]..offsets[i + 1]];
            last = last is null ? first = new Segment(piece, 0) : last.Append(piece);
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
