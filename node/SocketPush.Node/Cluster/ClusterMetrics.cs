using System.Diagnostics.Metrics;

namespace SocketPush.Node.Cluster;

/// <summary>
/// The cluster's metrics: calls to and from other nodes, the gossip library's drops, suspicions and failed probes,
/// handoff, replication and its repair, anti-entropy.
/// </summary>
internal sealed class ClusterMetrics
{
    private const string PeerDropped = "socketpush_peer_messages_dropped_total";
    private const string PeerDroppedHelp =
        "Peer data-plane messages dropped, by reason: unauthenticated (not sealed under cluster.secret or cluster.previousSecret), replayed (authentic but seen before), bad_envelope (opened but no data-plane message), malformed (not a readable peer call).";

    private readonly Counter<long> _forwarded;
    private readonly Histogram<double> _peerLatency;
    private readonly Counter<long> _peerBytes;
    private readonly Counter<long> _peerDropped;
    private readonly Counter<long> _peerServed;
    private readonly Counter<long> _peersRefused;
    private readonly Counter<long> _handoffRecords;
    private readonly Counter<long> _handoffBytes;
    private readonly Counter<long> _replicated;
    private readonly Counter<long> _quorumFailures;
    private readonly Counter<long> _publishFailovers;
    private readonly Counter<long> _standbyPromotions;
    private int _standbys;
    private readonly Counter<long> _copiesRepaired;
    private readonly Counter<long> _antiEntropyRounds;
    private readonly Counter<long> _antiEntropyBuckets;
    private readonly Counter<long> _antiEntropyRecords;
    private readonly Counter<long> _antiEntropyRepaired;
    private readonly Counter<long> _antiEntropyStreams;
    private ClusterMembership? _membership;
    private MissingCopies? _missing;

    public ClusterMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create("SocketPush.Cluster");
        _forwarded = MetricLabels.Of("service", "method", "result").Create(
            meter, "socketpush_forwarded_calls_total", name => meter.CreateCounter<long>(name, description: "Calls sent to another node, by service, method and result code."));
        _peerLatency = meter.CreateHistogram(
            "socketpush_peer_request_seconds",
            unit: null,
            description: "Time from sending a call to another node to its answer.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [.. Enumerable.Range(0, 18).Select(i => 0.000_05 * Math.Pow(2, i))] });
        _peerBytes = MetricLabels.One("direction", "sent", "received").Create(
            meter, "socketpush_peer_bytes_total", name => meter.CreateCounter<long>(name, description: "Bytes of peer data-plane messages, by direction (before sealing)."));
        // Two instruments, one family: the node counts what it drops itself, the gossip library the rest (observed below).
        var peerDropReasons = MetricLabels.One("reason", "unauthenticated", "bad_envelope", "malformed", "replayed");
        _peerDropped = peerDropReasons.Create(meter, PeerDropped, name => meter.CreateCounter<long>(name, description: PeerDroppedHelp));
        peerDropReasons.Create(meter, PeerDropped, name => meter.CreateObservableCounter(name, LibraryPeerDrops, unit: null, description: PeerDroppedHelp));
        // Two instruments, one family: gossip counts the members it refused, the data plane each message refused.
        const string refusedHelp =
            "Peers refused because this node cannot read their format (another wire version, or metadata it cannot decode), by where it showed: gossip (once per member and format) or peer_message (each data-plane message, also counted as malformed in socketpush_peer_messages_dropped_total).";
        var refusedVia = MetricLabels.One("via", "gossip", "peer_message");
        _peersRefused = refusedVia.Create(meter, "socketpush_peers_refused_total", name => meter.CreateCounter<long>(name, description: refusedHelp));
        refusedVia.Create(meter, "socketpush_peers_refused_total", name => meter.CreateObservableCounter(
            name, GossipRefusals, unit: null, description: refusedHelp));
        _peerServed = MetricLabels.Of("service", "method").Create(
            meter, "socketpush_peer_calls_served_total", name => meter.CreateCounter<long>(name, description: "Calls from other nodes served by this one, by service and method."));
        MetricLabels.One("reason", "malformed", "unauthenticated", "oversize", "unknown_version", "replayed").Create(
            meter,
            "socketpush_gossip_datagrams_dropped_total",
            name => meter.CreateObservableCounter(
                name, GossipDrops, unit: null, description: "Gossip datagrams and connections dropped, by reason (malformed, unauthenticated, oversize, unknown_version, replayed)."));
        meter.CreateObservableCounter(
            "socketpush_gossip_suspicions_total",
            () => Volatile.Read(ref _membership)?.Gossip.Counters.Suspicions ?? 0,
            unit: null,
            description: "Members this node began to suspect of having failed.");
        meter.CreateObservableCounter(
            "socketpush_gossip_probes_failed_total",
            () => Volatile.Read(ref _membership)?.Gossip.Counters.FailedProbes ?? 0,
            unit: null,
            description: "Probes of other members that got no ack, directly or through others.");
        _handoffRecords = meter.CreateCounter<long>("socketpush_handoff_records_total", description: "Records handed to the node that owns them now.");
        _handoffBytes = meter.CreateCounter<long>("socketpush_handoff_bytes_total", description: "Bytes of records handed to the node that owns them now.");
        _replicated = meter.CreateCounter<long>("socketpush_records_replicated_total", description: "Copies of a written record acknowledged by another replica of its key.");
        _copiesRepaired = meter.CreateCounter<long>(
            "socketpush_replica_copies_repaired_total", description: "Owed copies of records (a replica that missed a write, a replica a key gained) sent and acknowledged.");
        meter.CreateObservableGauge(
            "socketpush_replica_copies_missing",
            () => Volatile.Read(ref _missing)?.Count ?? 0,
            unit: null,
            description: "Copies of records this node owes other replicas: the re-replication backlog.");
        meter.CreateObservableGauge(
            "socketpush_keys_under_replicated",
            () => Volatile.Read(ref _missing)?.Keys(0).Keys ?? 0,
            unit: null,
            description: "Keys held here with a copy still owed to one of their replicas: fewer than cluster.replicas copies are known.");
        meter.CreateObservableGauge(
            "socketpush_cluster_config_disagreements",
            () => Volatile.Read(ref _membership)?.View.ConfigDisagreements ?? 0,
            unit: null,
            description: "Live members whose cluster config layer version (manager.setConfig) differs from this node's: 0 once the layer has spread.");
        _quorumFailures = meter.CreateCounter<long>(
            "socketpush_quorum_failures_total", description: "Writes that answered unavailable because cluster.writeQuorum replicas did not acknowledge in time.");
        _publishFailovers = meter.CreateCounter<long>(
            "socketpush_publishes_failed_over_total", description: "Publishes whose owner stopped answering and that waited for the failure detector to name a new owner, then went there.");
        meter.CreateObservableGauge(
            "socketpush_cluster_standbys",
            () => Volatile.Read(ref _standbys),
            unit: null,
            description: "Live standby nodes (node.standby) not yet promoted, as this node sees them.");
        _standbyPromotions = meter.CreateCounter<long>(
            "socketpush_standby_promotions_total", description: "Times this node, a standby, was promoted to stand in for a dead member.");
        _antiEntropyRounds = MetricLabels.One("result", "in_sync", "repaired", "failed").Create(meter, "socketpush_antientropy_rounds_total", name => meter.CreateCounter<long>(
            name, description: "Anti-entropy rounds this node started, by result: in_sync (no bucket of records differed and no stream was behind), repaired (differing buckets exchanged or streams sent), failed."));
        _antiEntropyBuckets = meter.CreateCounter<long>(
            "socketpush_antientropy_buckets_differing_total", description: "Buckets whose digests differed in the anti-entropy rounds this node started.");
        _antiEntropyRecords = MetricLabels.One("direction", "received", "sent").Create(meter, "socketpush_antientropy_records_total", name => meter.CreateCounter<long>(
            name, description: "Records the anti-entropy rounds this node started carried, by direction (received from the peer, sent to it)."));
        _antiEntropyRepaired = meter.CreateCounter<long>(
            "socketpush_antientropy_records_repaired_total",
            description: "Records the anti-entropy rounds this node started changed, in this node's store or the peer's (records both already had count nothing).");
        _antiEntropyStreams = meter.CreateCounter<long>(
            "socketpush_antientropy_streams_repaired_total",
            description: "Streams this node owns whose whole copy the anti-entropy rounds it started sent to the peer, and the peer took (its copy was missing, of another epoch or behind).");
    }

    /// <summary>
    /// Shows the gossip library's own totals (its drops, suspicions and failed probes, and the data plane's drops
    /// before a message reaches the node), read at every collection: the library counts them, the node only shows them.
    /// </summary>
    public void Observe(ClusterMembership membership) => Volatile.Write(ref _membership, membership);

    /// <summary>Shows the re-replication backlog.</summary>
    public void Observe(MissingCopies missing) => Volatile.Write(ref _missing, missing);

    public void Forwarded((string Service, string Method) call, string result) =>
        _forwarded.Add(1, Tag("service", call.Service), Tag("method", call.Method), Tag("result", result));

    public void PeerLatency(TimeSpan elapsed) => _peerLatency.Record(elapsed.TotalSeconds);

    public void PeerBytesSent(int bytes) => _peerBytes.Add(bytes, Tag("direction", "sent"));

    public void PeerBytesReceived(int bytes) => _peerBytes.Add(bytes, Tag("direction", "received"));

    public void PeerMessageDropped(string reason) => _peerDropped.Add(1, Tag("reason", reason));

    public void PeerRefused(string via) => _peersRefused.Add(1, Tag("via", via));

    public void PeerCallServed((string Service, string Method) call) => _peerServed.Add(1, Tag("service", call.Service), Tag("method", call.Method));

    public void HandedOff(int records, int bytes)
    {
        _handoffRecords.Add(records);
        _handoffBytes.Add(bytes);
    }

    public void RecordReplicated() => _replicated.Add(1);

    public void QuorumFailed() => _quorumFailures.Add(1);

    public void PublishFailedOver() => _publishFailovers.Add(1);

    public void StandbysSeen(int count) => Volatile.Write(ref _standbys, count);

    public void StandbyPromoted() => _standbyPromotions.Add(1);

    public void CopiesRepaired(int copies) => _copiesRepaired.Add(copies);

    public void AntiEntropyRound(string result, int bucketsDiffering, int received, int sent, int repaired, int streamsRepaired)
    {
        _antiEntropyRounds.Add(1, Tag("result", result));
        _antiEntropyBuckets.Add(bucketsDiffering);
        _antiEntropyRecords.Add(received, Tag("direction", "received"));
        _antiEntropyRecords.Add(sent, Tag("direction", "sent"));
        _antiEntropyRepaired.Add(repaired);
        _antiEntropyStreams.Add(streamsRepaired);
    }

    private static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);

    private static Measurement<long> Dropped(long count, string reason) => new(count, Tag("reason", reason));

    /// <summary>The gossip library's drops by reason; none before the membership is known.</summary>
    private IEnumerable<Measurement<long>> GossipDrops() => Volatile.Read(ref _membership)?.Gossip.Counters is { } gossip
        ?
        [
            Dropped(gossip.DroppedMalformed, "malformed"),
            Dropped(gossip.DroppedUnauthenticated, "unauthenticated"),
            Dropped(gossip.DroppedOversize, "oversize"),
            Dropped(gossip.DroppedUnknownVersion, "unknown_version"),
            Dropped(gossip.DroppedReplayed, "replayed"),
        ]
        : [];

    /// <summary>The members gossip brought that this node refused; none before the membership is known.</summary>
    private IEnumerable<Measurement<long>> GossipRefusals() => Volatile.Read(ref _membership) is { } membership
        ? [new Measurement<long>(membership.PeersRefused, Tag("via", "gossip"))]
        : [];

    /// <summary>The data plane's drops before a message reaches the node; none before the membership is known.</summary>
    private IEnumerable<Measurement<long>> LibraryPeerDrops() => Volatile.Read(ref _membership)?.Peers.Counters is { } peers
        ? [Dropped(peers.DroppedUnauthenticated, "unauthenticated"), Dropped(peers.DroppedReplayed, "replayed"), Dropped(peers.DroppedMalformed, "bad_envelope")]
        : [];
}
