using System.Buffers;
using System.Buffers.Binary;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>WebSocket opcodes (RFC 6455 §5.2) that the server reads or writes.</summary>
internal enum WebSocketOpcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// <summary>The header of one frame a client sent; its payload follows in the buffer, still masked.</summary>
internal readonly record struct WebSocketFrameHeader(bool Final, WebSocketOpcode Opcode, long PayloadLength, uint MaskKey, int HeaderLength);

/// <summary>Why a client's bytes are not a WebSocket frame the server accepts.</summary>
internal enum FrameProblem
{
    None,
    NeedMoreData,
    Unmasked,
    ReservedBits,
    UnknownOpcode,
    ControlFrameTooLong,
    TooLarge,

    /// <summary>A continuation without a message in progress, or a new message inside one.</summary>
    BadFragmentation,

    /// <summary>A text message, or a close reason, that is not UTF-8 (RFC 6455 §8.1: closed with 1007).</summary>
    InvalidUtf8,

    /// <summary>A close frame with one byte, or with a status a peer may not send (RFC 6455 §7.4).</summary>
    BadCloseStatus,
}

/// <summary>
/// Reads client frames and writes server frames. Server frames are never masked and never fragmented, so a
/// whole frame (header and payload) can be built once and written to any number of connections.
/// </summary>
internal static class WebSocketFrames
{
    /// <summary>The longest header a frame can have: 2 bytes, an 8-byte length, a 4-byte mask.</summary>
    public const int MaxHeaderLength = 14;

    /// <summary>Reads a frame header from the start of <paramref name="buffer"/> without consuming it.</summary>
    public static FrameProblem TryReadHeader(in ReadOnlySequence<byte> buffer, long maxPayload, out WebSocketFrameHeader header)
    {
        header = default;
        Span<byte> bytes = stackalloc byte[MaxHeaderLength];
        var available = (int)Math.Min(buffer.Length, MaxHeaderLength);
        if (available < 2)
        {
            return FrameProblem.NeedMoreData;
        }

        buffer.Slice(0, available).CopyTo(bytes);
        var final = (bytes[0] & 0x80) != 0;
        if ((bytes[0] & 0x70) != 0)
        {
            // No extension is negotiated, so RSV1-3 must be zero.
            return FrameProblem.ReservedBits;
        }

        var opcode = (WebSocketOpcode)(bytes[0] & 0x0F);
        if (opcode is not (WebSocketOpcode.Continuation or WebSocketOpcode.Text or WebSocketOpcode.Binary
            or WebSocketOpcode.Close or WebSocketOpcode.Ping or WebSocketOpcode.Pong))
        {
            return FrameProblem.UnknownOpcode;
        }

        if ((bytes[1] & 0x80) == 0)
        {
            // RFC 6455 §5.1: a server closes a connection whose client frames are not masked.
            return FrameProblem.Unmasked;
        }

        long length = bytes[1] & 0x7F;
        var headerLength = 2;
        if (length == 126)
        {
            headerLength = 4;
            if (available < headerLength)
            {
                return FrameProblem.NeedMoreData;
            }

            length = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        }
        else if (length == 127)
        {
            headerLength = 10;
            if (available < headerLength)
            {
                return FrameProblem.NeedMoreData;
            }

            var wide = BinaryPrimitives.ReadUInt64BigEndian(bytes[2..]);
            length = wide > long.MaxValue ? long.MaxValue : (long)wide;
        }

        var isControl = opcode >= WebSocketOpcode.Close;
        if (isControl && (length > 125 || !final))
        {
            return FrameProblem.ControlFrameTooLong;
        }

        if (length > maxPayload)
        {
            return FrameProblem.TooLarge;
        }

        if (available < headerLength + 4)
        {
            return FrameProblem.NeedMoreData;
        }

        var mask = BinaryPrimitives.ReadUInt32LittleEndian(bytes[headerLength..]);
        header = new WebSocketFrameHeader(final, opcode, length, mask, headerLength + 4);
        return FrameProblem.None;
    }

    /// <summary>
    /// The status the server answers a client's close frame with (RFC 6455 §5.5.1: it echoes the client's status),
    /// or the problem that makes the close frame itself a protocol error. An empty close has no status; 1000 answers it.
    /// </summary>
    public static FrameProblem CloseReply(ReadOnlySpan<byte> payload, out ushort status)
    {
        status = 1000;
        if (payload.Length == 0)
        {
            return FrameProblem.None;
        }

        if (payload.Length == 1)
        {
            status = 1002;
            return FrameProblem.BadCloseStatus;
        }

        var code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        if (!IsSendableCloseStatus(code))
        {
            status = 1002;
            return FrameProblem.BadCloseStatus;
        }

        if (!System.Text.Unicode.Utf8.IsValid(payload[2..]))
        {
            status = 1007;
            return FrameProblem.InvalidUtf8;
        }

        status = code;
        return FrameProblem.None;
    }

    /// <summary>
    /// The statuses a close frame may carry (RFC 6455 §7.4.1, IANA registry): 1000-1003 and 1007-1014 are defined,
    /// 3000-4999 belong to libraries and applications; 1004-1006 and 1015 are reserved and never sent, the rest unassigned.
    /// </summary>
    public static bool IsSendableCloseStatus(ushort status) =>
        status is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    /// <summary>Copies a masked payload into <paramref name="destination"/>, unmasking it.</summary>
    public static void Unmask(in ReadOnlySequence<byte> masked, uint maskKey, Span<byte> destination)
    {
        masked.CopyTo(destination);
        Span<byte> key = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(key, maskKey);
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] ^= key[i & 3];
        }
    }

    /// <summary>Builds one complete, unmasked, final frame.</summary>
    public static byte[] Build(WebSocketOpcode opcode, ReadOnlySpan<byte> payload)
    {
        var headerLength = payload.Length switch
        {
            <= 125 => 2,
            <= ushort.MaxValue => 4,
            _ => 10,
        };
        var frame = new byte[headerLength + payload.Length];
        frame[0] = (byte)(0x80 | (byte)opcode);
        switch (headerLength)
        {
            case 2:
                frame[1] = (byte)payload.Length;
                break;
            case 4:
                frame[1] = 126;
                BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
                break;
            default:
                frame[1] = 127;
                BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
                break;
        }

        payload.CopyTo(frame.AsSpan(headerLength));
        return frame;
    }

    /// <summary>A close frame with a status code (RFC 6455 §7.4) and a short reason.</summary>
    public static byte[] BuildClose(ushort status, string reason)
    {
        Span<byte> payload = stackalloc byte[125];
        BinaryPrimitives.WriteUInt16BigEndian(payload, status);
        var length = 2 + System.Text.Encoding.UTF8.GetBytes(reason.AsSpan(0, Math.Min(reason.Length, 40)), payload[2..]);
        return Build(WebSocketOpcode.Close, payload[..length]);
    }
}
