namespace SocketPush.Gossip;

/// <summary>Why a member's entry changed.</summary>
public enum MembershipChangeKind
{
    /// <summary>A member was seen alive for the first time, or again after it was dead or left.</summary>
    Joined,

    /// <summary>A live member changed its metadata or address.</summary>
    Updated,

    /// <summary>A member missed its probes and is suspected.</summary>
    Suspected,

    /// <summary>A suspected member refuted the suspicion.</summary>
    Recovered,

    /// <summary>A suspected member did not refute in time.</summary>
    Failed,

    /// <summary>A member left gracefully.</summary>
    Left,
}

/// <summary>One change, raised after the published snapshot already shows it.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Member">The member's entry after the change.</param>
public sealed record MembershipChange(MembershipChangeKind Kind, GossipMember Member);
