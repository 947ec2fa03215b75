namespace SocketPush.Gossip;

/// <summary>Totals since the member started, for metrics.</summary>
public readonly record struct GossipCounters
{
    /// <summary>Probes this member started.</summary>
    public long Probes { get; init; }

    /// <summary>Probes that got no ack, directly or through others.</summary>
    public long FailedProbes { get; init; }

    /// <summary>Members this member began to suspect (its own probes or rumours).</summary>
    public long Suspicions { get; init; }

    /// <summary>Times this member refuted a suspicion or death notice about itself.</summary>
    public long Refutations { get; init; }

    /// <summary>Datagrams sent, and their bytes on the wire.</summary>
    public long DatagramsSent { get; init; }

    /// <summary>Bytes of the datagrams sent.</summary>
    public long BytesSent { get; init; }

    /// <summary>Datagrams received and accepted.</summary>
    public long DatagramsReceived { get; init; }

    /// <summary>Datagrams that could not be decoded.</summary>
    public long DroppedMalformed { get; init; }

    /// <summary>Datagrams or connections that failed authentication, or were plain where sealing is required.</summary>
    public long DroppedUnauthenticated { get; init; }

    /// <summary>Datagrams larger than <see cref="GossipOptions.MaxDatagramSize"/>.</summary>
    public long DroppedOversize { get; init; }

    /// <summary>Datagrams with a wire version this member does not speak.</summary>
    public long DroppedUnknownVersion { get; init; }

    /// <summary>
    /// Sealed datagrams and reliable gossip messages that authenticated but were seen before, or
    /// fell more than 1024 payloads behind their sender's newest: replays.
    /// </summary>
    public long DroppedReplayed { get; init; }

    /// <summary>Push-pull exchanges completed, as requester or responder.</summary>
    public long PushPulls { get; init; }

    /// <summary>Local health multiplier (Lifeguard): probe interval and timeout are scaled by it. 1 is healthy.</summary>
    public int HealthMultiplier { get; init; }

    /// <summary>All dropped datagrams.</summary>
    public long DroppedDatagrams => DroppedMalformed + DroppedUnauthenticated + DroppedOversize + DroppedUnknownVersion + DroppedReplayed;
}
