namespace SocketPush.Gossip;

/// <summary>
/// Settings of one gossip member. Timings default to memberlist's LAN profile; a cluster should
/// use the same timings on every member. Checked by <see cref="GossipOptionsValidator"/>.
/// </summary>
public sealed class GossipOptions
{
    /// <summary>Address the UDP socket binds to.</summary>
    /// <value><c>127.0.0.1</c> by default.</value>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>UDP port; 0 lets the operating system choose.</summary>
    /// <value>7946 by default.</value>
    public int Port { get; set; } = 7946;

    /// <summary>Address other members use to reach this one; required when binding to all interfaces.</summary>
    /// <value>null by default: the bind address is advertised.</value>
    public string? AdvertiseAddress { get; set; }

    /// <summary>Members to join through, as <c>host:port</c>. The member's own address may be listed.</summary>
    /// <value>Empty by default: the member starts a cluster of its own.</value>
    public IList<string> Seeds { get; set; } = [];

    /// <summary>
    /// Shared secret. When set, every datagram and connection is sealed with AES-GCM under a key derived
    /// from it, and unsealed traffic is dropped.
    /// </summary>
    /// <value>null by default: no sealing.</value>
    /// <remarks>
    /// Can change while the member runs (<see cref="Membership.UpdateOptionsAsync"/>), for a key rotation
    /// with <see cref="PreviousSecret"/>; sealing itself cannot be turned on or off there.
    /// </remarks>
    public string? Secret { get; set; }

    /// <summary>
    /// A second secret accepted while the cluster rotates its key: traffic sealed under it still
    /// opens, but this member seals under <see cref="Secret"/> only. Rotation without a restart, on
    /// live members: (1) everywhere, PreviousSecret = new; (2) everywhere, Secret = new and
    /// PreviousSecret = old; (3) everywhere, PreviousSecret unset.
    /// </summary>
    /// <value>null by default.</value>
    public string? PreviousSecret { get; set; }

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
    /// <value>5 s by default.</value>
    public TimeSpan JoinRetryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest datagram sent or accepted, sealing included; about one Ethernet MTU.</summary>
    /// <value>1400 bytes by default.</value>
    public int MaxDatagramSize { get; set; } = 1400;

    /// <summary>Largest encoded metadata of a member.</summary>
    /// <value>512 bytes by default.</value>
    public int MaxMetadataBytes { get; set; } = 512;

    /// <summary>
    /// How long a connection attempt to a peer may take before it is given up: push-pull and
    /// fallback pings waiting for it are dropped, and <see cref="PeerChannel.Disconnected"/> is raised.
    /// </summary>
    /// <value>5 s by default.</value>
    public TimeSpan PeerConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a graceful leave waits for its announcement to be gossiped.</summary>
    /// <value>5 s by default.</value>
    public TimeSpan LeaveTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
