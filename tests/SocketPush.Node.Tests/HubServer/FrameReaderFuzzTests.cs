using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using SocketPush.Node.Edge.HubServer;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>
/// Generated client byte streams (well-formed frames, frames with bad bits, lengths and opcodes, random garbage) fed to
/// the frame reader and the upgrade parser the way a pipe hands them over: the readers never throw, never read past
/// what they were given, and say the same whatever the chunking. The CI form checks a few hundred streams per property;
/// <c>SOCKETPUSH_FUZZ_SECONDS</c> runs them longer (README "Fuzzing").
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", "Fuzz")]
public sealed class FrameReaderFuzzTests
{
    private const long Limit = 64 * 1024;

    /// <summary>What the session's read loop takes off a stream: each frame's header and unmasked payload, then the first problem.</summary>
    private sealed record Reading(IReadOnlyList<(WebSocketFrameHeader Header, byte[] Payload)> Frames, FrameProblem End)
    {
        public bool SameAs(Reading other) =>
            End == other.End && Frames.Count == other.Frames.Count
            && Frames.Zip(other.Frames).All(p => p.First.Header == p.Second.Header && p.First.Payload.AsSpan().SequenceEqual(p.Second.Payload));
    }

    /// <summary>Reads frames as the session does: header, whole payload or wait, next frame.</summary>
    private static Reading ReadAll(ReadOnlySequence<byte> buffer)
    {
        var frames = new List<(WebSocketFrameHeader, byte[])>();
        while (true)
        {
            var problem = WebSocketFrames.TryReadHeader(buffer, Limit, out var header);
            if (problem != FrameProblem.None)
            {
                return new Reading(frames, problem);
            }

            Assert.InRange(header.HeaderLength, 6, WebSocketFrames.MaxHeaderLength);
            Assert.InRange(header.PayloadLength, 0, Limit);
            if (buffer.Length < header.HeaderLength + header.PayloadLength)
            {
                return new Reading(frames, FrameProblem.NeedMoreData);
            }

            var payload = new byte[header.PayloadLength];
            WebSocketFrames.Unmask(buffer.Slice(header.HeaderLength, header.PayloadLength), header.MaskKey, payload);
            frames.Add((header, payload));
            buffer = buffer.Slice(header.HeaderLength + header.PayloadLength);
        }
    }

    /// <summary>One piece of a client stream: a frame (sometimes broken in one way) or raw garbage.</summary>
    private static readonly Gen<byte[]> Piece =
        Gen.Frequency(
            (6, from opcode in Gen.Elements(ClientFrames.Continuation, ClientFrames.Text, ClientFrames.Binary, ClientFrames.Close, ClientFrames.Ping, ClientFrames.Pong)
                from length in Gen.Frequency((6, Gen.Choose(0, 130)), (2, Gen.Choose(120, 300)), (1, Gen.Choose(65_530, 65_540)))
                from final in Gen.Frequency((4, Gen.Constant(true)), (1, Gen.Constant(false)))
                from key in Gen.Choose(int.MinValue, int.MaxValue)
                from seed in Gen.Choose(0, int.MaxValue)
                from lengthBytes in Gen.Elements<int?>(null, null, null, 2, 8)
                select ClientFrames.Build(opcode, Filled(length, seed), final, maskKey: unchecked((uint)key),
                    lengthBytes: lengthBytes is { } forced && (forced == 8 || length <= ushort.MaxValue) ? forced : null)),
            (1, from reserved in Gen.Choose(1, 7) select ClientFrames.Build(ClientFrames.Text, "x"u8, reservedBits: (byte)reserved)),
            (1, from opcode in Gen.Elements<byte>(0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF) select ClientFrames.Build(opcode, "x"u8)),
            (1, Gen.Constant(ClientFrames.Build(ClientFrames.Text, "plain"u8, masked: false))),
            (1, from declared in Gen.Elements(126L, 1L << 16, 1L << 40, long.MaxValue) select ClientFrames.Build(ClientFrames.Binary, [], declaredLength: declared)),
            (1, from declared in Gen.Choose(126, 70_000) select ClientFrames.Build(ClientFrames.Ping, [], declaredLength: declared)),
            (2, from length in Gen.Choose(0, 40) from seed in Gen.Choose(0, int.MaxValue) select Filled(length, seed)));

    private static readonly Gen<(byte[] Stream, int[] Cuts)> Streams =
        from count in Gen.Choose(1, 6)
        from pieces in Gen.ListOf(Piece, count)
        let stream = pieces.SelectMany(p => p).ToArray()
        from cutCount in Gen.Choose(0, 12)
        from cuts in Gen.ArrayOf(Gen.Choose(0, Math.Max(stream.Length, 1)), cutCount)
        select (stream, cuts);

    private static void Check(string name, int ciInputs, Property property) =>
        Fuzz.Batches(name, ciInputs, n => FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(n), property));

    [Fact]
    public void A_stream_reads_the_same_however_it_is_chunked() =>
        Check("websocket frames: chunking", 1000, Prop.ForAll(Streams.ToArbitrary(), s =>
        {
            var whole = ReadAll(new ReadOnlySequence<byte>(s.Stream));
            var chunked = ReadAll(ClientFrames.Chunked(s.Stream, s.Cuts));
            Assert.True(whole.SameAs(chunked), $"whole: {whole.Frames.Count} frames then {whole.End}; chunked: {chunked.Frames.Count} then {chunked.End}");
        }));

    [Fact]
    public void A_prefix_of_a_stream_reads_as_a_prefix_of_its_reading() =>
        Check("websocket frames: prefixes", 1000, Prop.ForAll(Streams.ToArbitrary(), Gen.Choose(0, 1000).ToArbitrary(), (s, permille) =>
        {
            // The stream sits inside a larger array, with bytes after it a reader that overruns would see.
            var cut = (int)((long)s.Stream.Length * permille / 1000);
            var padded = s.Stream[..cut].Concat(Enumerable.Repeat((byte)0xFF, 32)).ToArray();
            var prefix = ReadAll(new ReadOnlySequence<byte>(padded, 0, cut));
            var whole = ReadAll(new ReadOnlySequence<byte>(s.Stream));

            Assert.True(prefix.Frames.Count <= whole.Frames.Count);
            Assert.True(prefix.SameAs(whole with { Frames = whole.Frames.Take(prefix.Frames.Count).ToList(), End = prefix.End }));
            // Cut short, a stream either waits for more or shows the problem the whole stream shows at that frame.
            if (prefix.End != FrameProblem.NeedMoreData)
            {
                Assert.Equal(whole.End, prefix.End);
                Assert.Equal(whole.Frames.Count, prefix.Frames.Count);
            }
        }));

    [Fact]
    public void Valid_frames_round_trip_through_the_reader() =>
        Check("websocket frames: round trip", 300, Prop.ForAll(
            (from count in Gen.Choose(1, 4)
             from frames in Gen.ListOf(
                from opcode in Gen.Elements(ClientFrames.Text, ClientFrames.Binary, ClientFrames.Ping, ClientFrames.Close)
                from length in opcode >= ClientFrames.Close ? Gen.Choose(0, 125) : Gen.Choose(0, (int)Limit)
                from seed in Gen.Choose(0, int.MaxValue)
                from key in Gen.Choose(int.MinValue, int.MaxValue)
                select (Opcode: opcode, Payload: Filled(length, seed), Key: unchecked((uint)key)),
                count)
             select frames).ToArbitrary(),
            Cuts(300_000, 10).ToArbitrary(),
            (frames, cuts) =>
            {
                var stream = frames.SelectMany(f => ClientFrames.Build(f.Opcode, f.Payload, maskKey: f.Key)).ToArray();
                var reading = ReadAll(ClientFrames.Chunked(stream, cuts));

                Assert.Equal(FrameProblem.NeedMoreData, reading.End);
                Assert.Equal(frames.Count, reading.Frames.Count);
                foreach (var (sent, read) in frames.Zip(reading.Frames))
                {
                    Assert.Equal((WebSocketOpcode)sent.Opcode, read.Header.Opcode);
                    Assert.True(read.Header.Final);
                    Assert.Equal(sent.Payload, read.Payload);
                }
            }));

    [Fact]
    public void Any_close_payload_gets_its_own_status_back_or_a_protocol_error() =>
        Check("websocket frames: close payloads", 500, Prop.ForAll(
            Gen.Frequency(
                (3, from code in Gen.Choose(0, 65535) from reason in Gen.Elements("", "bye", "é", "\u6f22") select Close((ushort)code, Encoding.UTF8.GetBytes(reason))),
                (1, from code in Gen.Elements(1000, 1001, 3000, 4999) from bad in Gen.Elements<byte[]>([0xFF], [0xC3], [0xED, 0xA0, 0x80]) select Close((ushort)code, bad)),
                (1, from length in Gen.Choose(0, 125) from seed in Gen.Choose(0, int.MaxValue) select Filled(length, seed))).ToArbitrary(),
            payload =>
            {
                var problem = WebSocketFrames.CloseReply(payload, out var status);
                var code = payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : (ushort)0;
                if (payload.Length == 0)
                {
                    Assert.Equal((FrameProblem.None, (ushort)1000), (problem, status));
                }
                else if (payload.Length == 1 || !WebSocketFrames.IsSendableCloseStatus(code))
                {
                    Assert.Equal((FrameProblem.BadCloseStatus, (ushort)1002), (problem, status));
                }
                else if (!IsUtf8(payload.AsSpan(2)))
                {
                    Assert.Equal((FrameProblem.InvalidUtf8, (ushort)1007), (problem, status));
                }
                else
                {
                    Assert.Equal((FrameProblem.None, code), (problem, status));
                }
            }));

    [Fact]
    public void The_upgrade_parser_gives_the_same_verdict_for_every_prefix_and_chunking_and_never_throws() =>
        Check("upgrade requests", 300, Prop.ForAll(UpgradeHeads.ToArbitrary(), Cuts(400, 8).ToArbitrary(), (head, cuts) =>
        {
            var bytes = Encoding.Latin1.GetBytes(head);
            var whole = HubUpgradeRequest.TryParse(new ReadOnlySequence<byte>(bytes), out var request, out var length);
            var chunked = HubUpgradeRequest.TryParse(ClientFrames.Chunked(bytes, cuts), out var chunkedRequest, out var chunkedLength);
            Assert.Equal((whole, length, request?.Key, request?.Problem()), (chunked, chunkedLength, chunkedRequest?.Key, chunkedRequest?.Problem()));
            Assert.InRange(length, 0, bytes.Length);

            // A verdict, once given, is what every longer prefix gives too: the parser decides from what it has seen.
            for (var cut = 0; cut < bytes.Length; cut++)
            {
                var early = HubUpgradeRequest.TryParse(new ReadOnlySequence<byte>(bytes, 0, cut), out _, out _);
                Assert.True(early == UpgradeVerdict.NeedMoreData || early == whole, $"a prefix of {cut} bytes gave {early}, the whole head {whole}");
            }
        }));

    /// <summary>Upgrade heads from the canonical one, with headers dropped, doubled, bent or garbled.</summary>
    private static readonly Gen<string> UpgradeHeads =
        from lines in Gen.Shuffle(new[]
        {
            "Host: localhost", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + RawSocketClient.SampleKey,
            "Sec-WebSocket-Version: 13", "Origin: http://example.com",
        })
        from kept in Gen.SubListOf(lines)
        from mutation in Gen.Choose(0, 9)
        from target in Gen.Elements("/push", "/push?userId=1&sessionId=a%20b", "/push?%zz=%", "/pushx", "/push/negotiate", "/", "/push?" + new string('a', 9000))
        from version in Gen.Elements("HTTP/1.1", "HTTP/1.0", "HTTP/2", "")
        from garbageLength in Gen.Choose(0, 20)
        from garbage in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (char)b), garbageLength)
        let headers = mutation switch
        {
            0 => kept.Select(l => l.ToUpperInvariant()),
            1 => kept.Select(l => l.Replace(": ", ":", StringComparison.Ordinal)),
            2 => kept.Concat(kept),
            3 => kept.Append(new string(garbage)),
            4 => kept.Select(l => l.Replace("Upgrade", "keep-alive, Upgrade", StringComparison.Ordinal)),
            5 => kept.Append("Sec-WebSocket-Key: " + new string(garbage)),
            _ => kept,
        }
        select $"GET {target} {version}\r\n{string.Join("\r\n", headers)}\r\n\r\n" + (mutation == 6 ? new string(garbage) : "");

    private static Gen<int[]> Cuts(int below, int most) =>
        from count in Gen.Choose(0, most)
        from cuts in Gen.ArrayOf(Gen.Choose(0, below), count)
        select cuts;

    private static byte[] Close(ushort code, byte[] reason)
    {
        var payload = new byte[2 + reason.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        reason.CopyTo(payload, 2);
        return payload;
    }

    private static bool IsUtf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static byte[] Filled(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
