using System.Buffers;
using System.Buffers.Binary;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>
/// Frames as a client sends them (RFC 6455 §5.2), written here byte by byte from the RFC rather than with the node's
/// own <c>WebSocketFrames</c>, so that tests check the node against an independent encoder.
/// </summary>
internal static class ClientFrames
{
    public const byte Continuation = 0x0;
    public const byte Text = 0x1;
    public const byte Binary = 0x2;
    public const byte Close = 0x8;
    public const byte Ping = 0x9;
    public const byte Pong = 0xA;

    /// <summary>
    /// One frame. <paramref name="lengthBytes"/> forces a 7-bit (0), 16-bit (2) or 64-bit (8) length field;
    /// null picks the shortest, as the RFC asks.
    /// </summary>
    public static byte[] Build(
        byte opcode,
        ReadOnlySpan<byte> payload,
        bool final = true,
        bool masked = true,
        byte reservedBits = 0,
        uint maskKey = 0x37FA213D,
        int? lengthBytes = null,
        long? declaredLength = null)
    {
        var length = declaredLength ?? payload.Length;
        var extra = lengthBytes ?? (length <= 125 ? 0 : length <= ushort.MaxValue ? 2 : 8);
        var frame = new List<byte>(2 + extra + 4 + payload.Length)
        {
            (byte)((final ? 0x80 : 0) | (reservedBits << 4) | opcode),
        };
        var maskBit = masked ? 0x80 : 0;
        switch (extra)
        {
            case 0:
                frame.Add((byte)(maskBit | (int)length));
                break;
            case 2:
                frame.Add((byte)(maskBit | 126));
                frame.Add((byte)(length >> 8));
                frame.Add((byte)length);
                break;
            default:
                frame.Add((byte)(maskBit | 127));
                for (var shift = 56; shift >= 0; shift -= 8)
                {
                    frame.Add((byte)((ulong)length >> shift));
                }

                break;
        }

        var key = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(key, maskKey);
        if (masked)
        {
            frame.AddRange(key);
        }

        for (var i = 0; i < payload.Length; i++)
        {
            frame.Add(masked ? (byte)(payload[i] ^ key[i % 4]) : payload[i]);
        }

        return [.. frame];
    }

    /// <summary>A server frame read back: RFC 6455 says a server never masks.</summary>
    public sealed record ServerFrame(bool Final, byte Opcode, byte[] Payload)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Payload);

        /// <summary>The status code of a close frame.</summary>
        public int CloseStatus => Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : -1;

        public string CloseReason => System.Text.Encoding.UTF8.GetString(Payload.AsSpan(Math.Min(2, Payload.Length)));
    }

    /// <summary>The same bytes cut into segments at the given offsets, as a pipe can hand them over.</summary>
    public static ReadOnlySequence<byte> Chunked(byte[] bytes, IEnumerable<int> cuts)
    {
        var points = cuts.Where(c => c > 0 && c < bytes.Length).Distinct().Order().ToList();
        if (points.Count == 0)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var bounds = points.Prepend(0).Append(bytes.Length).ToList();
        var first = new Segment(bytes.AsMemory(bounds[0], bounds[1] - bounds[0]), 0);
        var last = first;
        for (var i = 1; i < bounds.Count - 1; i++)
        {
            last = last.Append(bytes.AsMemory(bounds[i], bounds[i + 1] - bounds[i]));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
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
