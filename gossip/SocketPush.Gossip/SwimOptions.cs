namespace SocketPush.Gossip;

/// <summary>
/// Timings and counts of SWIM with Lifeguard: probing, suspicion, dissemination, push-pull, joining.
/// They default to memberlist's LAN profile; a cluster should use the same values on every member.
/// Each timer takes a new value from its next run (<see cref="Membership.UpdateOptionsAsync"/>).
/// Checked with the rest of <see cref="GossipOptions"/> by <see cref="GossipOptionsValidator"/>.
/// </summary>
public sealed class SwimOptions
{
    /// <summary>Time between two probes of this member.</summary>
    /// <value>1 s by default.</value>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Time to wait for a direct ack before asking others to probe.</summary>
    /// <value>500 ms by default.</value>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// When a probe's ack is late, also ping the member over the reliable channel (memberlist's TCP
    /// fallback), so that datagram loss alone rarely leads to a suspicion.
    /// </summary>
    /// <value>true by default.</value>
    public bool FallbackPing { get; set; } = true;

    /// <summary>Members asked to probe indirectly (ping-req) after a missed ack.</summary>
    /// <value>3 by default.</value>
    public int IndirectChecks { get; set; } = 3;

    /// <summary>Minimum suspicion timeout is this × max(1, log10 N) × <see cref="ProbeInterval"/>.</summary>
    /// <value>4 by default.</value>
    public int SuspicionMult { get; set; } = 4;

    /// <summary>Maximum suspicion timeout is this × the minimum; confirmations shrink it toward the minimum.</summary>
    /// <value>6 by default.</value>
    public int SuspicionMaxTimeoutMult { get; set; } = 6;

    /// <summary>Each update is piggybacked this × ⌈log10(N+1)⌉ times.</summary>
    /// <value>4 by default.</value>
    public int RetransmitMult { get; set; } = 4;

    /// <summary>Time between two gossip rounds; a round is skipped when there is nothing to tell.</summary>
    /// <value>200 ms by default.</value>
    public TimeSpan GossipInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Members gossiped to in each round.</summary>
    /// <value>3 by default.</value>
    public int GossipNodes { get; set; } = 3;

    /// <summary>How long a dead member still receives gossip, so that it can learn it was declared dead and refute.</summary>
    /// <value>30 s by default.</value>
    public TimeSpan GossipToTheDeadTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Time between two full state exchanges; stretched for clusters above 32 members as memberlist does.</summary>
    /// <value>30 s by default.</value>
    public TimeSpan PushPullInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Lifeguard: the local health multiplier never exceeds this.</summary>
    /// <value>8 by default.</value>
    public int AwarenessMaxMultiplier { get; set; } = 8;

    /// <summary>How long dead and left members are remembered to refuse stale rumours about them.</summary>
    /// <value>1 hour by default.</value>
    public TimeSpan DeadMemberRetention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Time between two attempts to reach a random dead member; one that answers gets a full state
    /// exchange, which is how the two sides of a healed partition find each other again.
    /// </summary>
    /// <value>10 s by default.</value>
    public TimeSpan ReconnectInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>While no other member is known, the seeds are tried again this often.</summary>
    /// <value>2 s by default.</value>
    public TimeSpan JoinRetryInterval { get; set; } = TimeSpan.FromSeconds(2);
}
