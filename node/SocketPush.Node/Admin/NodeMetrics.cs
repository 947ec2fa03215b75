using Prometheus;
using SocketPush.Node.Edge;
using SocketPush.Node.Cluster;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Admin;

/// <summary>
/// The node's Prometheus metrics. Each node has its own registry (not prometheus-net's static default), so
/// several nodes in one process, as in the tests, keep their figures apart.
/// </summary>
internal sealed class NodeMetrics
{
    private readonly Gauge _connections;
    private readonly Counter _published;
    private readonly Counter _delivered;
    private readonly Histogram _deliveryLatency;
    private readonly Counter _apiCalls;
    private readonly Counter _rejectedConnections;
    private readonly Counter _refusedSubscriptions;
    private readonly Counter _slowConsumersClosed;
    private readonly Counter _malformedClientMessages;
    private readonly Counter _forwarded;
    private readonly Histogram _peerLatency;
    private readonly Counter _peerBytes;
    private readonly Counter _peerDropped;
    private readonly Counter _peerServed;
    private readonly Counter _gossipDropped;
    private readonly Counter _suspicions;
    private readonly Counter _failedProbes;
    private readonly Counter _redirects;
    private readonly Counter _moved;
    private readonly Counter _handoffRecords;
    private readonly Counter _handoffBytes;
    private readonly Counter _replicated;
    private readonly Counter _quorumFailures;
    private readonly Counter _copiesRepaired;
    private readonly Gauge _copiesMissing;
    private readonly Gauge _keysUnderReplicated;
    private readonly Counter _antiEntropyRounds;
    private readonly Counter _antiEntropyBuckets;
    private readonly Counter _antiEntropyRecords;
    private readonly Counter _antiEntropyRepaired;
    private readonly Counter _configReloads;
    private readonly Counter _futureStampsRefused;
    private readonly Gauge _configVersion;
    private readonly Gauge _configAppliedAt;

    public NodeMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var factory = Metrics.WithCustomRegistry(Registry);
        _connections = factory.CreateGauge("socketpush_connections", "Open client connections by transport.", "transport");
        _published = factory.CreateCounter("socketpush_messages_published_total", "Messages accepted by user.publish and channel.publish.", "kind");
        _delivered = factory.CreateCounter("socketpush_messages_delivered_total", "Messages handed to client connections.", "kind");
        _deliveryLatency = factory.CreateHistogram(
            "socketpush_delivery_latency_seconds",
            "Time from accepting a publish to writing it to a client connection.",
            new HistogramConfiguration
            {
                LabelNames = ["kind"],
                Buckets = Histogram.ExponentialBuckets(0.000_05, 2, 16),
            });
        _apiCalls = factory.CreateCounter("socketpush_api_calls_total", "Management API calls by service, method and result code.", "service", "method", "code");
        _rejectedConnections = factory.CreateCounter("socketpush_connections_rejected_total", "Client connections refused, by reason.", "reason");
        _refusedSubscriptions = factory.CreateCounter(
            "socketpush_subscriptions_refused_total", "channel.subscribe calls refused on this node (the owner of the user), by reason.", "reason");
        _refusedSubscriptions.WithLabels("max_subscriptions_per_user");
        foreach (var reason in new[] { "max_connections", "max_connections_per_user" })
        {
            _rejectedConnections.WithLabels(reason);
        }
        _slowConsumersClosed = factory.CreateCounter("socketpush_slow_consumers_closed_total", "Connections closed because their send queue was full.");
        _malformedClientMessages = factory.CreateCounter(
            "socketpush_client_messages_malformed_total", "Unreadable frames or hub messages from clients; each closes its connection.");

        _forwarded = factory.CreateCounter("socketpush_forwarded_calls_total", "Calls sent to another node, by service, method and result code.", "service", "method", "result");
        _peerLatency = factory.CreateHistogram("socketpush_peer_request_seconds", "Time from sending a call to another node to its answer.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.000_05, 2, 18) });
        _peerBytes = factory.CreateCounter("socketpush_peer_bytes_total", "Bytes of peer data-plane messages, by direction (before sealing).", "direction");
        _peerDropped = factory.CreateCounter(
            "socketpush_peer_messages_dropped_total",
            "Peer data-plane messages dropped, by reason: unauthenticated (not sealed under cluster.secret or cluster.previousSecret), replayed (authentic but seen before), bad_envelope (opened but no data-plane message), malformed (not a readable peer call).",
            "reason");
        _peerServed = factory.CreateCounter("socketpush_peer_calls_served_total", "Calls from other nodes served by this one, by service and method.", "service", "method");
        _gossipDropped = factory.CreateCounter("socketpush_gossip_datagrams_dropped_total", "Gossip datagrams and connections dropped, by reason (malformed, unauthenticated, oversize, unknown_version, replayed).", "reason");
        _suspicions = factory.CreateCounter("socketpush_gossip_suspicions_total", "Members this node began to suspect of having failed.");
        _failedProbes = factory.CreateCounter("socketpush_gossip_probes_failed_total", "Probes of other members that got no ack, directly or through others.");
        _redirects = factory.CreateCounter("socketpush_redirects_total", "Clients sent to the node that owns their user, by transport.", "transport");
        _moved = factory.CreateCounter("socketpush_moved_total", "Connections asked to reconnect to their user's owner (moved).");
        _handoffRecords = factory.CreateCounter("socketpush_handoff_records_total", "Records handed to the node that owns them now.");
        _handoffBytes = factory.CreateCounter("socketpush_handoff_bytes_total", "Bytes of records handed to the node that owns them now.");
        _futureStampsRefused = factory.CreateCounter(
            "socketpush_clock_future_stamps_refused_total",
            "Records and presence reports from other nodes refused because their clock stamp was more than a minute ahead of this node's clock.");
        _configReloads = factory.CreateCounter("socketpush_config_reloads_total", "Reloads of the config file, by result (applied, or refused as a whole).", "result");
        _configVersion = factory.CreateGauge("socketpush_config_version", "Version of the config in force: 1 at start, one more per reload that changed something.");
        _configAppliedAt = factory.CreateGauge("socketpush_config_applied_timestamp_seconds", "When the config in force was applied (Unix time).");
        _configReloads.WithLabels("applied");
        _configReloads.WithLabels("refused");
        _replicated = factory.CreateCounter("socketpush_records_replicated_total", "Copies of a written record acknowledged by another replica of its key.");
        _copiesRepaired = factory.CreateCounter("socketpush_replica_copies_repaired_total", "Owed copies of records (a replica that missed a write, a replica a key gained) sent and acknowledged.");
        _copiesMissing = factory.CreateGauge("socketpush_replica_copies_missing", "Copies of records this node owes other replicas: the re-replication backlog.");
        _keysUnderReplicated = factory.CreateGauge("socketpush_keys_under_replicated", "Keys held here with a copy still owed to one of their replicas: fewer than cluster.replicas copies are known.");
        _quorumFailures = factory.CreateCounter("socketpush_quorum_failures_total", "Writes that answered unavailable because cluster.writeQuorum replicas did not acknowledge in time.");
        _antiEntropyRounds = factory.CreateCounter(
            "socketpush_antientropy_rounds_total",
            "Anti-entropy rounds this node started, by result: in_sync (no bucket differed), repaired (differing buckets exchanged), failed.",
            "result");
        _antiEntropyBuckets = factory.CreateCounter("socketpush_antientropy_buckets_differing_total", "Buckets whose digests differed in the anti-entropy rounds this node started.");
        _antiEntropyRecords = factory.CreateCounter(
            "socketpush_antientropy_records_total", "Records the anti-entropy rounds this node started carried, by direction (received from the peer, sent to it).", "direction");
        _antiEntropyRepaired = factory.CreateCounter(
            "socketpush_antientropy_records_repaired_total",
            "Records the anti-entropy rounds this node started changed, in this node's store or the peer's (records both already had count nothing).");
        foreach (var result in new[] { "in_sync", "repaired", "failed" })
        {
            _antiEntropyRounds.WithLabels(result);
        }

        _antiEntropyRecords.WithLabels("received");
        _antiEntropyRecords.WithLabels("sent");
        _peerBytes.WithLabels("sent");
        _peerBytes.WithLabels("received");
        foreach (var reason in new[] { "unauthenticated", "bad_envelope", "malformed" })
        {
            _peerDropped.WithLabels(reason);
        }

        foreach (var reason in new[] { "malformed", "unauthenticated", "oversize", "unknown_version" })
        {
            _gossipDropped.WithLabels(reason);
        }

        // Export every label combination from the start, so dashboards and rate() see zeros instead of gaps.
        foreach (var transport in Enum.GetValues<ClientTransport>())
        {
            _connections.WithLabels(TransportLabel(transport)).Set(0);
        }

        foreach (var kind in new[] { "user", "channel" })
        {
            _published.WithLabels(kind);
            _delivered.WithLabels(kind);
            _deliveryLatency.WithLabels(kind);
        }
    }

    public CollectorRegistry Registry { get; }

    /// <summary>
    /// Exports the gossip library's own totals (its drops, suspicions and failed probes, and the data plane's drops
    /// before a message reaches the node), read at every scrape: the library counts them, the node only shows them.
    /// </summary>
    public void Observe(ClusterMembership membership) => Registry.AddBeforeCollectCallback(() =>
    {
        var gossip = membership.Gossip.Counters;
        var peers = membership.Peers.Counters;
        _gossipDropped.WithLabels("malformed").IncTo(gossip.DroppedMalformed);
        _gossipDropped.WithLabels("unauthenticated").IncTo(gossip.DroppedUnauthenticated);
        _gossipDropped.WithLabels("oversize").IncTo(gossip.DroppedOversize);
        _gossipDropped.WithLabels("unknown_version").IncTo(gossip.DroppedUnknownVersion);
        _gossipDropped.WithLabels("replayed").IncTo(gossip.DroppedReplayed);
        _suspicions.IncTo(gossip.Suspicions);
        _failedProbes.IncTo(gossip.FailedProbes);
        _peerDropped.WithLabels("unauthenticated").IncTo(peers.DroppedUnauthenticated);
        _peerDropped.WithLabels("replayed").IncTo(peers.DroppedReplayed);
        _peerDropped.WithLabels("bad_envelope").IncTo(peers.DroppedMalformed);
    });

    public void ConnectionOpened(ClientTransport transport) => _connections.WithLabels(TransportLabel(transport)).Inc();

    public void ConnectionClosed(ClientTransport transport) => _connections.WithLabels(TransportLabel(transport)).Dec();

    public void ConnectionRejected(string reason) => _rejectedConnections.WithLabels(reason).Inc();

    public void SubscriptionRefused(string reason) => _refusedSubscriptions.WithLabels(reason).Inc();

    public void Published(string kind) => _published.WithLabels(kind).Inc();

    /// <summary>Counts a message written to <paramref name="connections"/> connections, with its time since the publish.</summary>
    public void Delivered(PushMessage message, int connections, TimeProvider time)
    {
        if (connections > 0 && message.Kind != PushMessage.MovedKind)
        {
            _delivered.WithLabels(message.Kind).Inc(connections);
            _deliveryLatency.WithLabels(message.Kind).Observe(time.GetElapsedTime(message.PublishedTimestamp).TotalSeconds, connections);
        }
    }

    public void ApiCall(string service, string method, string code) => _apiCalls.WithLabels(service, method, code).Inc();

    public void Forwarded((string Service, string Method) call, string result) => _forwarded.WithLabels(call.Service, call.Method, result).Inc();

    public void PeerLatency(TimeSpan elapsed) => _peerLatency.Observe(elapsed.TotalSeconds);

    public void PeerBytesSent(int bytes) => _peerBytes.WithLabels("sent").Inc(bytes);

    public void PeerBytesReceived(int bytes) => _peerBytes.WithLabels("received").Inc(bytes);

    public void PeerMessageDropped(string reason) => _peerDropped.WithLabels(reason).Inc();

    public void PeerCallServed((string Service, string Method) call) => _peerServed.WithLabels(call.Service, call.Method).Inc();

    public void Redirected(string transport) => _redirects.WithLabels(transport).Inc();

    public void MovedSent() => _moved.Inc();

    public void HandedOff(int records, int bytes)
    {
        _handoffRecords.Inc(records);
        _handoffBytes.Inc(bytes);
    }

    public void ConfigReloaded(string result) => _configReloads.WithLabels(result).Inc();

    public void ConfigApplied(int version, DateTimeOffset at)
    {
        _configVersion.Set(version);
        _configAppliedAt.Set(at.ToUnixTimeMilliseconds() / 1000.0);
    }

    public void RecordReplicated() => _replicated.Inc();

    public void QuorumFailed() => _quorumFailures.Inc();

    public void CopiesRepaired(int copies) => _copiesRepaired.Inc(copies);

    /// <summary>Shows the re-replication backlog at every scrape.</summary>
    public void Observe(HybridClock clock) => Registry.AddBeforeCollectCallback(() => _futureStampsRefused.IncTo(clock.FutureStampsRefused));

    public void Observe(MissingCopies missing) => Registry.AddBeforeCollectCallback(() =>
    {
        _copiesMissing.Set(missing.Count);
        _keysUnderReplicated.Set(missing.Keys(0).Keys);
    });

    public void AntiEntropyRound(string result, int bucketsDiffering, int received, int sent, int repaired)
    {
        _antiEntropyRounds.WithLabels(result).Inc();
        _antiEntropyBuckets.Inc(bucketsDiffering);
        _antiEntropyRecords.WithLabels("received").Inc(received);
        _antiEntropyRecords.WithLabels("sent").Inc(sent);
        _antiEntropyRepaired.Inc(repaired);
    }

    public void SlowConsumerClosed() => _slowConsumersClosed.Inc();

    public void MalformedClientMessage() => _malformedClientMessages.Inc();

    private static string TransportLabel(ClientTransport transport) => transport switch
    {
        ClientTransport.WebSockets => "websockets",
        ClientTransport.ServerSentEvents => "signalr_sse",
        ClientTransport.LongPolling => "long_polling",
        _ => "sse",
    };
}
