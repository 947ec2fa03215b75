namespace SocketPush.Gossip;

/// <summary>
/// Settings of one gossip member: its socket, secrets and limits, and the protocol's timings in
/// <see cref="Swim"/>. Checked by <see cref="GossipOptionsValidator"/>.
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

    /// <summary>Timings and counts of the protocol: probing, suspicion, gossip, push-pull, joining.</summary>
    /// <value>memberlist's LAN profile by default (see <see cref="SwimOptions"/>).</value>
    public SwimOptions Swim { get; set; } = new();

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
