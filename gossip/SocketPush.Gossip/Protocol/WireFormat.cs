using System.Buffers;
using MemoryPack;

namespace SocketPush.Gossip.Protocol;

/// <summary>Why a datagram or payload was refused.</summary>
internal enum DropReason
{
    None,
    Malformed,
    Unauthenticated,
    Oversize,
    UnknownVersion,

    /// <summary>Authentic, but seen before or too far behind its sender's counter (a replay).</summary>
    Replayed,
}

/// <summary>
/// Plain wire layout: the version byte, then MemoryPack. The version is read before any
/// deserialization so that a future format is refused instead of misread.
/// </summary>
internal static class WireFormat
{
    public const byte Version = 1;

    /// <summary>Longest member name or address accepted from the wire.</summary>
    public const int MaxNameLength = 128;

    public const int MaxAddressLength = 64;

    /// <summary>
    /// Walks the messages of a plain datagram. Returns the reason it was refused; messages decoded
    /// before a malformed one are not handed out.
    /// </summary>
    /// <remarks><paramref name="ends"/> receives where each message ends, so an update can be re-gossiped as received.</remarks>
    public static DropReason Decode(ReadOnlySpan<byte> datagram, List<IGossipMessage> messages, List<int> ends, int maxMetaBytes)
    {
        messages.Clear();
        ends.Clear();
        if (datagram.Length < 2)
        {
            return DropReason.Malformed;
        }

        if (datagram[0] != Version)
        {
            return DropReason.UnknownVersion;
        }

        var rest = datagram[1..];
        try
        {
            while (!rest.IsEmpty)
            {
                IGossipMessage? message = null;
                var read = MemoryPackSerializer.Deserialize(rest, ref message);
                if (read <= 0 || message is null || !IsWellFormed(message, maxMetaBytes))
                {
                    messages.Clear();
                    return DropReason.Malformed;
                }

                messages.Add(message);
                rest = rest[read..];
                ends.Add(datagram.Length - rest.Length);
            }
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            messages.Clear();
            return DropReason.Malformed;
        }

        return DropReason.None;
    }

    /// <summary>Reads a version-prefixed MemoryPack payload of the reliable channel.</summary>
    public static DropReason DecodePayload<T>(ReadOnlySpan<byte> payload, out T? value)
        where T : class
    {
        value = null;
        if (payload.Length < 2)
        {
            return DropReason.Malformed;
        }

        if (payload[0] != Version)
        {
            return DropReason.UnknownVersion;
        }

        try
        {
            var read = MemoryPackSerializer.Deserialize(payload[1..], ref value);
            return read == payload.Length - 1 && value is not null ? DropReason.None : DropReason.Malformed;
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            value = null;
            return DropReason.Malformed;
        }
    }

    /// <summary>
    /// What MemoryPack throws on bytes that are not a message: its own exception, and others when lengths read from the
    /// wire break its arithmetic or bounds (an OverflowException, found by fuzzing, escaped and stopped the member's loop).
    /// </summary>
    private static bool IsUnreadable(Exception e) =>
        e is MemoryPackSerializationException or OverflowException or ArgumentException or IndexOutOfRangeException or InvalidOperationException;

    public static void EncodePayload<T>(ArrayBufferWriter<byte> writer, T value)
    {
        writer.GetSpan(1)[0] = Version;
        writer.Advance(1);
        MemoryPackSerializer.Serialize(writer, value);
    }

    public static bool IsValidPushPull(PushPullMessage message, int maxMetaBytes)
    {
        if (message.Members is null)
        {
            return !message.IsPush;
        }

        foreach (var member in message.Members)
        {
            if (member is null || !ValidName(member.Name) || !ValidAddress(member.Address)
                || member.Meta is null || member.Meta.Length > maxMetaBytes || member.State > MemberState.Left)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsWellFormed(IGossipMessage message, int maxMetaBytes) => message switch
    {
        PingMessage m => ValidName(m.Target),
        IndirectPingMessage m => ValidName(m.Target) && ValidAddress(m.TargetAddress),
        AckMessage or NackMessage => true,
        AliveMessage m => ValidName(m.Name) && ValidAddress(m.Address) && m.Meta is not null && m.Meta.Length <= maxMetaBytes,
        SuspectMessage m => ValidName(m.Name) && m.From is { Length: <= MaxNameLength },
        DeadMessage m => ValidName(m.Name) && m.From is { Length: <= MaxNameLength },
        LeftMessage m => ValidName(m.Name),
        _ => false,
    };

    private static bool ValidName(string? name) => name is { Length: > 0 and <= MaxNameLength };

    private static bool ValidAddress(string? address) => address is { Length: > 0 and <= MaxAddressLength };
}
