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

    [MemoryPackIgnore]
    private ulong _digestHash;

    /// <summary>
    /// This record's share of a member table's digest. Stable across processes (FNV-1a, then a
    /// SplitMix finalizer), unlike <see cref="string.GetHashCode()"/>.
    /// </summary>
    [MemoryPackIgnore]
    internal ulong DigestHash
    {
        get
        {
            if (_digestHash == 0)
            {
                var h = 14695981039346656037UL;
                foreach (var c in Name)
                {
                    h = unchecked((h ^ c) * 1099511628211UL);
                }

                h = unchecked((h ^ Incarnation) * 1099511628211UL);
                h = unchecked((h ^ (ulong)State) * 1099511628211UL);
                h = unchecked((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL);
                h = unchecked((h ^ (h >> 27)) * 0x94D049BB133111EBUL);
                _digestHash = (h ^ (h >> 31)) | 1;
            }

            return _digestHash;
        }
    }

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

/// <summary>
/// Anti-entropy over the reliable channel. A periodic exchange starts with the digest alone; a
/// peer whose digest matches answers without a member list, so a converged cluster pays almost
/// nothing; otherwise both full states cross. Joins and reconnects send the full state at once.
/// </summary>
[MemoryPackable]
internal sealed partial class PushPullMessage
{
    public bool Join { get; init; }

    /// <summary>XOR of <see cref="MemberRecord.DigestHash"/> over the sender's member table.</summary>
    public ulong Digest { get; init; }

    /// <summary>The sender's full state, or null: a digest-only request, or an in-sync reply.</summary>
    public MemberRecord[]? Members { get; init; }

    /// <summary>On a reply: the states differed, so the requester sends its own state back.</summary>
    public bool WantPush { get; init; }

    /// <summary>The state sent back after <see cref="WantPush"/>; merged, never answered.</summary>
    public bool IsPush { get; init; }
}
