using MemoryPack;

namespace SocketPush.Gossip.Protocol;

/// <summary>
/// One SWIM message. A datagram is the wire version byte followed by one or more of these,
/// each MemoryPack-encoded as a union so a receiver can walk them without a length prefix.
/// </summary>
[MemoryPackable]
[MemoryPackUnion(0, typeof(PingMessage))]
[MemoryPackUnion(1, typeof(IndirectPingMessage))]
[MemoryPackUnion(2, typeof(AckMessage))]
[MemoryPackUnion(3, typeof(NackMessage))]
[MemoryPackUnion(4, typeof(AliveMessage))]
[MemoryPackUnion(5, typeof(SuspectMessage))]
[MemoryPackUnion(6, typeof(DeadMessage))]
[MemoryPackUnion(7, typeof(LeftMessage))]
internal partial interface IGossipMessage;

/// <summary>Direct probe. <see cref="Target"/> guards against an address now used by another member.</summary>
[MemoryPackable]
internal sealed partial class PingMessage : IGossipMessage
{
    public uint Seq { get; set; }

    public string Target { get; set; } = "";
}

/// <summary>Ping-req: asks the receiver to probe <see cref="Target"/> on the sender's behalf.</summary>
[MemoryPackable]
internal sealed partial class IndirectPingMessage : IGossipMessage
{
    public uint Seq { get; set; }

    public string Target { get; set; } = "";

    public string TargetAddress { get; set; } = "";

    /// <summary>Lifeguard: the requester wants a nack when the target stays silent.</summary>
    public bool WantNack { get; set; }
}

[MemoryPackable]
internal sealed partial class AckMessage : IGossipMessage
{
    public uint Seq { get; set; }
}

[MemoryPackable]
internal sealed partial class NackMessage : IGossipMessage
{
    public uint Seq { get; set; }
}

[MemoryPackable]
internal sealed partial class AliveMessage : IGossipMessage
{
    public string Name { get; set; } = "";

    public string Address { get; set; } = "";

    public uint Incarnation { get; set; }

    public byte[] Meta { get; set; } = [];
}

[MemoryPackable]
internal sealed partial class SuspectMessage : IGossipMessage
{
    public string Name { get; set; } = "";

    public uint Incarnation { get; set; }

    /// <summary>The member that suspects; distinct senders are Lifeguard's independent confirmations.</summary>
    public string From { get; set; } = "";
}

[MemoryPackable]
internal sealed partial class DeadMessage : IGossipMessage
{
    public string Name { get; set; } = "";

    public uint Incarnation { get; set; }

    public string From { get; set; } = "";
}

[MemoryPackable]
internal sealed partial class LeftMessage : IGossipMessage
{
    public string Name { get; set; } = "";

    public uint Incarnation { get; set; }
}

/// <summary>
/// What one member knows about another. Instances are never changed after they are built, so
/// a member table, a push-pull message and a snapshot can share them.
/// </summary>
[MemoryPackable]
internal sealed partial class MemberRecord
{
    public string Name { get; init; } = "";

    public string Address { get; init; } = "";

    public uint Incarnation { get; init; }

    public MemberState State { get; init; }

    public byte[] Meta { get; init; } = [];

    /// <summary>The facade's public view of this record, built at most once.</summary>
    [MemoryPackIgnore]
    internal GossipMember? PublicView { get; set; }

    [MemoryPackIgnore]
    private int _encodedSize = -1;

    /// <summary>Encoded size in a push-pull message; computed once, used by the simulator's byte count.</summary>
    [MemoryPackIgnore]
    internal int EncodedSize
    {
        get
        {
            if (_encodedSize < 0)
            {
                _encodedSize = MemoryPackSerializer.Serialize(this).Length;
            }

            return _encodedSize;
        }
    }

    public MemberRecord With(MemberState state, uint incarnation) => new()
    {
        Name = Name,
        Address = Address,
        Incarnation = incarnation,
        State = state,
        Meta = Meta,
    };
}

/// <summary>Full state exchanged over the reliable channel on join and periodically.</summary>
[MemoryPackable]
internal sealed partial class PushPullMessage
{
    public bool Join { get; init; }

    public MemberRecord[] Members { get; init; } = [];
}
