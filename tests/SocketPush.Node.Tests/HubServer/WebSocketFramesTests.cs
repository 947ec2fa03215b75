using System.Buffers;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using SocketPush.Node.Edge.HubServer;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>The node's WebSocket frame reader and writer against RFC 6455's byte layout.</summary>
public sealed class WebSocketFramesTests
{
    private const long Limit = 32 * 1024;

    private static FrameProblem Read(byte[] bytes, out WebSocketFrameHeader header, long limit = Limit) =>
        WebSocketFrames.TryReadHeader(new ReadOnlySequence<byte>(bytes), limit, out header);

    private static byte[] Unmasked(byte[] frame, WebSocketFrameHeader header)
    {
        var payload = new byte[header.PayloadLength];
        WebSocketFrames.Unmask(new ReadOnlySequence<byte>(frame).Slice(header.HeaderLength, header.PayloadLength), header.MaskKey, payload);
        return payload;
    }

    [Theory]
    [InlineData(0, 6)]
    [InlineData(1, 6)]
    [InlineData(125, 6)]
    [InlineData(126, 8)]
    [InlineData(65535, 8)]
    [InlineData(65536, 14)]
    public void Header_lengths_of_7_16_and_64_bits_are_read(int length, int headerLength)
    {
        var payload = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        var frame = ClientFrames.Build(ClientFrames.Binary, payload);

        Assert.Equal(FrameProblem.None, Read(frame, out var header, limit: 1 << 20));

        Assert.Equal(new WebSocketFrameHeader(true, WebSocketOpcode.Binary, length, header.MaskKey, headerLength), header);
        Assert.Equal(payload, Unmasked(frame, header));
    }

    [Fact]
    public void A_16_or_64_bit_length_field_holding_a_small_length_is_read_as_written()
    {
        var payload = "hi"u8.ToArray();
        foreach (var lengthBytes in new[] { 2, 8 })
        {
            var frame = ClientFrames.Build(ClientFrames.Text, payload, lengthBytes: lengthBytes);
            Assert.Equal(FrameProblem.None, Read(frame, out var header));
            Assert.Equal(2, header.PayloadLength);
            Assert.Equal(2 + lengthBytes + 4, header.HeaderLength);
            Assert.Equal(payload, Unmasked(frame, header));
        }
    }

    [Fact]
    public void Fin_opcode_and_mask_key_are_taken_from_the_first_bytes()
    {
        var frame = ClientFrames.Build(ClientFrames.Text, "abc"u8, final: false, maskKey: 0x01020304);

        Assert.Equal(FrameProblem.None, Read(frame, out var header));

        Assert.False(header.Final);
        Assert.Equal(WebSocketOpcode.Text, header.Opcode);
        // The key is kept in wire order: byte 0 of the key masks payload byte 0.
        var key = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(key, header.MaskKey);
        Assert.Equal([0x01, 0x02, 0x03, 0x04], key);
        Assert.Equal("abc", Encoding.ASCII.GetString(Unmasked(frame, header)));
    }

    [Fact]
    public void Masking_and_unmasking_round_trip_with_the_rfc_sample()
    {
        // RFC 6455 §5.7: a masked "Hello" with key 37 fa 21 3d.
        byte[] rfcFrame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        Assert.Equal(rfcFrame, ClientFrames.Build(ClientFrames.Text, "Hello"u8, maskKey: 0x37fa213d));

        Assert.Equal(FrameProblem.None, Read(rfcFrame, out var header));

        Assert.Equal("Hello", Encoding.ASCII.GetString(Unmasked(rfcFrame, header)));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(300)]
    [InlineData(70_000)]
    public void Every_prefix_of_a_frame_is_either_need_more_data_or_the_same_header_with_its_payload_incomplete(int length)
    {
        var frame = ClientFrames.Build(ClientFrames.Text, new byte[length]);
        Assert.Equal(FrameProblem.None, Read(frame, out var whole, limit: 1 << 20));

        for (var cut = 0; cut < frame.Length; cut++)
        {
            var problem = WebSocketFrames.TryReadHeader(new ReadOnlySequence<byte>(frame, 0, cut), 1 << 20, out var header);
            if (cut < whole.HeaderLength)
            {
                Assert.True(problem == FrameProblem.NeedMoreData, $"a prefix of {cut} bytes gave {problem}");
            }
            else
            {
                Assert.Equal(FrameProblem.None, problem);
                Assert.Equal(whole, header);
                Assert.True(cut < header.HeaderLength + header.PayloadLength);
            }
        }
    }

    [Fact]
    public void An_unmasked_client_frame_is_refused()
    {
        Assert.Equal(FrameProblem.Unmasked, Read(ClientFrames.Build(ClientFrames.Text, "x"u8, masked: false), out _));
        Assert.Equal(FrameProblem.Unmasked, Read(ClientFrames.Build(ClientFrames.Ping, "x"u8, masked: false), out _));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(7)]
    public void Reserved_bits_are_refused_without_an_extension(byte bits) =>
        Assert.Equal(FrameProblem.ReservedBits, Read(ClientFrames.Build(ClientFrames.Text, "x"u8, reservedBits: bits), out _));

    [Theory]
    [InlineData(0x3)]
    [InlineData(0x7)]
    [InlineData(0xB)]
    [InlineData(0xF)]
    public void Unknown_opcodes_are_refused(byte opcode) =>
        Assert.Equal(FrameProblem.UnknownOpcode, Read(ClientFrames.Build(opcode, "x"u8), out _));

    [Theory]
    [InlineData(ClientFrames.Close)]
    [InlineData(ClientFrames.Ping)]
    [InlineData(ClientFrames.Pong)]
    public void Control_frames_over_125_bytes_or_fragmented_are_refused(byte opcode)
    {
        Assert.Equal(FrameProblem.None, Read(ClientFrames.Build(opcode, new byte[125]), out _));
        Assert.Equal(FrameProblem.ControlFrameTooLong, Read(ClientFrames.Build(opcode, new byte[126]), out _));
        Assert.Equal(FrameProblem.ControlFrameTooLong, Read(ClientFrames.Build(opcode, "x"u8, final: false), out _));
        // Refused from the header alone, before the payload arrives.
        Assert.Equal(FrameProblem.ControlFrameTooLong, Read(ClientFrames.Build(opcode, [], declaredLength: 200), out _));
    }

    [Fact]
    public void Frames_over_the_limit_are_refused_from_their_header_alone()
    {
        Assert.Equal(FrameProblem.None, Read(ClientFrames.Build(ClientFrames.Binary, new byte[Limit]), out _));
        Assert.Equal(FrameProblem.TooLarge, Read(ClientFrames.Build(ClientFrames.Binary, new byte[Limit + 1]), out _));

        // Only the header arrived: the declared length is enough to refuse, nothing is waited for.
        var header = ClientFrames.Build(ClientFrames.Binary, [], declaredLength: 1L << 40);
        Assert.Equal(FrameProblem.TooLarge, Read(header, out _));
        var huge = ClientFrames.Build(ClientFrames.Binary, [], declaredLength: long.MaxValue);
        huge[2] = 0xFF; // the most significant bit set: not a valid length at all
        Assert.Equal(FrameProblem.TooLarge, Read(huge, out _));
    }

    [Fact]
    public void Fewer_than_two_bytes_need_more_data()
    {
        Assert.Equal(FrameProblem.NeedMoreData, Read([], out _));
        Assert.Equal(FrameProblem.NeedMoreData, Read([0x81], out _));
    }

    [Theory]
    [InlineData(0, new byte[] { 0x81, 0x00 })]
    [InlineData(125, new byte[] { 0x81, 125 })]
    [InlineData(126, new byte[] { 0x81, 126, 0x00, 126 })]
    [InlineData(65535, new byte[] { 0x81, 126, 0xFF, 0xFF })]
    [InlineData(65536, new byte[] { 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 })]
    public void Built_frames_have_the_rfc_layout_final_unmasked_shortest_length(int length, byte[] expectedHeader)
    {
        var payload = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();

        var frame = WebSocketFrames.Build(WebSocketOpcode.Text, payload);

        Assert.Equal(expectedHeader, frame[..expectedHeader.Length]);
        Assert.Equal(payload, frame[expectedHeader.Length..]);
    }

    [Fact]
    public void Built_frames_carry_their_opcode()
    {
        Assert.Equal(0x82, WebSocketFrames.Build(WebSocketOpcode.Binary, [1])[0]);
        Assert.Equal(0x8A, WebSocketFrames.Build(WebSocketOpcode.Pong, [1])[0]);
    }

    [Fact]
    public void Close_frames_hold_the_status_big_endian_then_the_reason()
    {
        Assert.Equal([0x88, 0x02, 0x03, 0xE8], WebSocketFrames.BuildClose(1000, ""));
        Assert.Equal([0x88, 0x04, 0x03, 0xF1, (byte)'o', (byte)'k'], WebSocketFrames.BuildClose(1009, "ok"));

        // A control frame holds at most 125 bytes, so long reasons are cut; multi-byte characters stay whole.
        var frame = WebSocketFrames.BuildClose(1002, new string('é', 100));
        Assert.True(frame[1] <= 125);
        Assert.Equal(frame.Length - 2, frame[1]);
        Assert.Equal(new string('é', 40), Encoding.UTF8.GetString(frame.AsSpan(4)));
    }

    /// <summary>Payload lengths around each length-field boundary, and the pieces a pipe could cut the frame into.</summary>
    private static readonly Gen<(byte[] Payload, uint Key, byte Opcode, int[] Cuts)> FramedPayload =
        from length in Gen.Frequency(
            (4, Gen.Choose(0, 130)),
            (2, Gen.Choose(120, 300)),
            (2, Gen.Choose(65_530, 65_540)),
            (1, Gen.Choose(65_541, 70_000)))
        from seed in Gen.Choose(0, int.MaxValue)
        from key in Gen.Choose(int.MinValue, int.MaxValue)
        from opcode in Gen.Elements(ClientFrames.Text, ClientFrames.Binary, ClientFrames.Continuation)
        from cuts in Gen.ArrayOf(Gen.Choose(0, length + 14), 6)
        from small in Gen.ArrayOf(Gen.Choose(0, 15), 6)
        select (Filled(length, seed), unchecked((uint)key), opcode, cuts.Concat(small).ToArray());

    [Property(MaxTest = 200)]
    public Property A_masked_client_frame_parses_back_to_its_payload_however_it_is_chunked() =>
        Prop.ForAll(FramedPayload.ToArbitrary(), c =>
        {
            var frame = ClientFrames.Build(c.Opcode, c.Payload, maskKey: c.Key);
            var sequence = ClientFrames.Chunked(frame, c.Cuts);

            Assert.Equal(FrameProblem.None, WebSocketFrames.TryReadHeader(sequence, 1 << 20, out var header));
            Assert.Equal(c.Payload.Length, header.PayloadLength);
            Assert.Equal((WebSocketOpcode)c.Opcode, header.Opcode);
            Assert.Equal(frame.Length, header.HeaderLength + header.PayloadLength);
            var payload = new byte[header.PayloadLength];
            WebSocketFrames.Unmask(sequence.Slice(header.HeaderLength, header.PayloadLength), header.MaskKey, payload);
            Assert.Equal(c.Payload, payload);
        });

    private static byte[] Filled(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
