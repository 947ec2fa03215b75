using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Admin;
using SocketPush.Node.Edge;

namespace SocketPush.Node.Tests;

/// <summary>
/// /metrics as dashboards, alerts and the README read it. Each area owns its meters and Admin exports them; the
/// exposition must stay what it was when one class held every metric.
/// </summary>
public sealed class MetricsExpositionTests
{
    private const string AppliedAt = "socketpush_config_applied_timestamp_seconds ";

    /// <summary>
    /// What a fresh node exported before each area owned its meters (prometheus-net's text format), but for the value of
    /// <see cref="AppliedAt"/>: every family with its help and type, and every series shown at zero from the start.
    /// </summary>
    private const string FreshNode = """
        # HELP socketpush_connections Open client connections by transport.
        # TYPE socketpush_connections gauge
        socketpush_connections{transport="websockets"} 0
        socketpush_connections{transport="signalr_sse"} 0
        socketpush_connections{transport="long_polling"} 0
        socketpush_connections{transport="sse"} 0
        # HELP socketpush_messages_published_total Messages accepted by user.publish and channel.publish.
        # TYPE socketpush_messages_published_total counter
        socketpush_messages_published_total{kind="user"} 0
        socketpush_messages_published_total{kind="channel"} 0
        # HELP socketpush_messages_delivered_total Messages handed to client connections.
        # TYPE socketpush_messages_delivered_total counter
        socketpush_messages_delivered_total{kind="user"} 0
        socketpush_messages_delivered_total{kind="channel"} 0
        # HELP socketpush_delivery_latency_seconds Time from accepting a publish to writing it to a client connection.
        # TYPE socketpush_delivery_latency_seconds histogram
        socketpush_delivery_latency_seconds_sum{kind="user"} 0
        socketpush_delivery_latency_seconds_count{kind="user"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="5e-05"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.0001"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.0002"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.0004"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.0008"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.0016"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.0032"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.0064"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.0128"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.0256"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.0512"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.1024"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.2048"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.4096"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="0.8192"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="1.6384"} 0
        socketpush_delivery_latency_seconds_bucket{kind="user",le="+Inf"} 0
        socketpush_delivery_latency_seconds_sum{kind="channel"} 0
        socketpush_delivery_latency_seconds_count{kind="channel"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="5e-05"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.0001"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.0002"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.0004"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.0008"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.0016"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.0032"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.0064"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.0128"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.0256"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.0512"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.1024"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.2048"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.4096"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="0.8192"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="1.6384"} 0
        socketpush_delivery_latency_seconds_bucket{kind="channel",le="+Inf"} 0
        # HELP socketpush_api_calls_total Management API calls by service, method and result code.
        # TYPE socketpush_api_calls_total counter
        # HELP socketpush_connections_rejected_total Client connections refused, by reason.
        # TYPE socketpush_connections_rejected_total counter
        socketpush_connections_rejected_total{reason="max_connections"} 0
        socketpush_connections_rejected_total{reason="max_connections_per_user"} 0
        # HELP socketpush_subscriptions_refused_total channel.subscribe calls refused on this node (the owner of the user), by reason.
        # TYPE socketpush_subscriptions_refused_total counter
        socketpush_subscriptions_refused_total{reason="max_subscriptions_per_user"} 0
        # HELP socketpush_slow_consumers_closed_total Connections closed because their send queue was full.
        # TYPE socketpush_slow_consumers_closed_total counter
        socketpush_slow_consumers_closed_total 0
        # HELP socketpush_client_messages_malformed_total Unreadable frames or hub messages from clients; each closes its connection.
        # TYPE socketpush_client_messages_malformed_total counter
        socketpush_client_messages_malformed_total 0
        # HELP socketpush_forwarded_calls_total Calls sent to another node, by service, method and result code.
        # TYPE socketpush_forwarded_calls_total counter
        # HELP socketpush_peer_request_seconds Time from sending a call to another node to its answer.
        # TYPE socketpush_peer_request_seconds histogram
        socketpush_peer_request_seconds_sum 0
        socketpush_peer_request_seconds_count 0
        socketpush_peer_request_seconds_bucket{le="5e-05"} 0
        socketpush_peer_request_seconds_bucket{le="0.0001"} 0
        socketpush_peer_request_seconds_bucket{le="0.0002"} 0
        socketpush_peer_request_seconds_bucket{le="0.0004"} 0
        socketpush_peer_request_seconds_bucket{le="0.0008"} 0
        socketpush_peer_request_seconds_bucket{le="0.0016"} 0
        socketpush_peer_request_seconds_bucket{le="0.0032"} 0
        socketpush_peer_request_seconds_bucket{le="0.0064"} 0
        socketpush_peer_request_seconds_bucket{le="0.0128"} 0
        socketpush_peer_request_seconds_bucket{le="0.0256"} 0
        socketpush_peer_request_seconds_bucket{le="0.0512"} 0
        socketpush_peer_request_seconds_bucket{le="0.1024"} 0
        socketpush_peer_request_seconds_bucket{le="0.2048"} 0
        socketpush_peer_request_seconds_bucket{le="0.4096"} 0
        socketpush_peer_request_seconds_bucket{le="0.8192"} 0
        socketpush_peer_request_seconds_bucket{le="1.6384"} 0
        socketpush_peer_request_seconds_bucket{le="3.2768"} 0
        socketpush_peer_request_seconds_bucket{le="6.5536"} 0
        socketpush_peer_request_seconds_bucket{le="+Inf"} 0
        # HELP socketpush_peer_bytes_total Bytes of peer data-plane messages, by direction (before sealing).
        # TYPE socketpush_peer_bytes_total counter
        socketpush_peer_bytes_total{direction="sent"} 0
        socketpush_peer_bytes_total{direction="received"} 0
        # HELP socketpush_peer_messages_dropped_total Peer data-plane messages dropped, by reason: unauthenticated (not sealed under cluster.secret or cluster.previousSecret), replayed (authentic but seen before), bad_envelope (opened but no data-plane message), malformed (not a readable peer call).
        # TYPE socketpush_peer_messages_dropped_total counter
        socketpush_peer_messages_dropped_total{reason="unauthenticated"} 0
        socketpush_peer_messages_dropped_total{reason="bad_envelope"} 0
        socketpush_peer_messages_dropped_total{reason="malformed"} 0
        socketpush_peer_messages_dropped_total{reason="replayed"} 0
        # HELP socketpush_peers_refused_total Peers refused because this node cannot read their format (another wire version, or metadata it cannot decode), by where it showed: gossip (once per member and format) or peer_message (each data-plane message, also counted as malformed in socketpush_peer_messages_dropped_total).
        # TYPE socketpush_peers_refused_total counter
        socketpush_peers_refused_total{via="gossip"} 0
        socketpush_peers_refused_total{via="peer_message"} 0
        # HELP socketpush_peer_calls_served_total Calls from other nodes served by this one, by service and method.
        # TYPE socketpush_peer_calls_served_total counter
        # HELP socketpush_gossip_datagrams_dropped_total Gossip datagrams and connections dropped, by reason (malformed, unauthenticated, oversize, unknown_version, replayed).
        # TYPE socketpush_gossip_datagrams_dropped_total counter
        socketpush_gossip_datagrams_dropped_total{reason="malformed"} 0
        socketpush_gossip_datagrams_dropped_total{reason="unauthenticated"} 0
        socketpush_gossip_datagrams_dropped_total{reason="oversize"} 0
        socketpush_gossip_datagrams_dropped_total{reason="unknown_version"} 0
        socketpush_gossip_datagrams_dropped_total{reason="replayed"} 0
        # HELP socketpush_gossip_suspicions_total Members this node began to suspect of having failed.
        # TYPE socketpush_gossip_suspicions_total counter
        socketpush_gossip_suspicions_total 0
        # HELP socketpush_gossip_probes_failed_total Probes of other members that got no ack, directly or through others.
        # TYPE socketpush_gossip_probes_failed_total counter
        socketpush_gossip_probes_failed_total 0
        # HELP socketpush_redirects_total Clients sent to the node that owns their user, by transport.
        # TYPE socketpush_redirects_total counter
        # HELP socketpush_moved_total Connections asked to reconnect to their user's owner (moved).
        # TYPE socketpush_moved_total counter
        socketpush_moved_total 0
        # HELP socketpush_handoff_records_total Records handed to the node that owns them now.
        # TYPE socketpush_handoff_records_total counter
        socketpush_handoff_records_total 0
        # HELP socketpush_handoff_bytes_total Bytes of records handed to the node that owns them now.
        # TYPE socketpush_handoff_bytes_total counter
        socketpush_handoff_bytes_total 0
        # HELP socketpush_clock_future_stamps_refused_total Records and presence reports from other nodes refused because their clock stamp was more than a minute ahead of this node's clock.
        # TYPE socketpush_clock_future_stamps_refused_total counter
        socketpush_clock_future_stamps_refused_total 0
        # HELP socketpush_config_reloads_total Reloads of the config file and applications of the cluster's config layer, by result (applied, or refused as a whole).
        # TYPE socketpush_config_reloads_total counter
        socketpush_config_reloads_total{result="applied"} 0
        socketpush_config_reloads_total{result="refused"} 0
        # HELP socketpush_config_version Version of the config in force: 1 at start, one more per reload of the file or of the cluster's layer that changed something.
        # TYPE socketpush_config_version gauge
        socketpush_config_version 1
        # HELP socketpush_config_applied_timestamp_seconds When the config in force was applied (Unix time).
        # TYPE socketpush_config_applied_timestamp_seconds gauge
        # HELP socketpush_records_replicated_total Copies of a written record acknowledged by another replica of its key.
        # TYPE socketpush_records_replicated_total counter
        socketpush_records_replicated_total 0
        # HELP socketpush_replica_copies_repaired_total Owed copies of records (a replica that missed a write, a replica a key gained) sent and acknowledged.
        # TYPE socketpush_replica_copies_repaired_total counter
        socketpush_replica_copies_repaired_total 0
        # HELP socketpush_replica_copies_missing Copies of records this node owes other replicas: the re-replication backlog.
        # TYPE socketpush_replica_copies_missing gauge
        socketpush_replica_copies_missing 0
        # HELP socketpush_keys_under_replicated Keys held here with a copy still owed to one of their replicas: fewer than cluster.replicas copies are known.
        # TYPE socketpush_keys_under_replicated gauge
        socketpush_keys_under_replicated 0
        # HELP socketpush_cluster_config_disagreements Live members whose cluster config layer version (manager.setConfig) differs from this node's: 0 once the layer has spread.
        # TYPE socketpush_cluster_config_disagreements gauge
        socketpush_cluster_config_disagreements 0
        # HELP socketpush_quorum_failures_total Writes that answered unavailable because cluster.writeQuorum replicas did not acknowledge in time.
        # TYPE socketpush_quorum_failures_total counter
        socketpush_quorum_failures_total 0
        # HELP socketpush_antientropy_rounds_total Anti-entropy rounds this node started, by result: in_sync (no bucket of records differed and no stream was behind), repaired (differing buckets exchanged or streams sent), failed.
        # TYPE socketpush_antientropy_rounds_total counter
        socketpush_antientropy_rounds_total{result="in_sync"} 0
        socketpush_antientropy_rounds_total{result="repaired"} 0
        socketpush_antientropy_rounds_total{result="failed"} 0
        # HELP socketpush_antientropy_buckets_differing_total Buckets whose digests differed in the anti-entropy rounds this node started.
        # TYPE socketpush_antientropy_buckets_differing_total counter
        socketpush_antientropy_buckets_differing_total 0
        # HELP socketpush_antientropy_records_total Records the anti-entropy rounds this node started carried, by direction (received from the peer, sent to it).
        # TYPE socketpush_antientropy_records_total counter
        socketpush_antientropy_records_total{direction="received"} 0
        socketpush_antientropy_records_total{direction="sent"} 0
        # HELP socketpush_antientropy_records_repaired_total Records the anti-entropy rounds this node started changed, in this node's store or the peer's (records both already had count nothing).
        # TYPE socketpush_antientropy_records_repaired_total counter
        socketpush_antientropy_records_repaired_total 0
        # HELP socketpush_antientropy_streams_repaired_total Streams this node owns whose whole copy the anti-entropy rounds it started sent to the peer, and the peer took (its copy was missing, of another epoch or behind).
        # TYPE socketpush_antientropy_streams_repaired_total counter
        socketpush_antientropy_streams_repaired_total 0
        # HELP socketpush_gaps_filled_total Gaps in a live stream a connection saw (a message past the next offset), by how they closed: the missing messages arrived live within 50 ms, or their fetch from the owner recovered them, came back incomplete, or failed.
        # TYPE socketpush_gaps_filled_total counter
        socketpush_gaps_filled_total{result="arrived"} 0
        socketpush_gaps_filled_total{result="recovered"} 0
        socketpush_gaps_filled_total{result="incomplete"} 0
        socketpush_gaps_filled_total{result="failed"} 0
        # HELP socketpush_history_evicted_total Messages dropped from history: beyond a stream's size, older than its age, beyond history.maxBytes, their rule was removed, or their stream moved to other replicas.
        # TYPE socketpush_history_evicted_total counter
        socketpush_history_evicted_total{reason="size"} 0
        socketpush_history_evicted_total{reason="age"} 0
        socketpush_history_evicted_total{reason="bytes"} 0
        socketpush_history_evicted_total{reason="rule"} 0
        socketpush_history_evicted_total{reason="moved"} 0
        # HELP socketpush_publishes_failed_over_total Publishes whose owner stopped answering and that waited for the failure detector to name a new owner, then went there.
        # TYPE socketpush_publishes_failed_over_total counter
        socketpush_publishes_failed_over_total 0
        # HELP socketpush_cluster_standbys Live standby nodes (node.standby) not yet promoted, as this node sees them.
        # TYPE socketpush_cluster_standbys gauge
        socketpush_cluster_standbys 0
        # HELP socketpush_standby_promotions_total Times this node, a standby, was promoted to stand in for a dead member.
        # TYPE socketpush_standby_promotions_total counter
        socketpush_standby_promotions_total 0
        # HELP socketpush_recoveries_total Streams a reconnecting client asked to recover, by result: every missed message sent, or incomplete (history no longer holds them, or the epoch changed), or the owner could not be read.
        # TYPE socketpush_recoveries_total counter
        socketpush_recoveries_total{result="recovered"} 0
        socketpush_recoveries_total{result="incomplete"} 0
        socketpush_recoveries_total{result="failed"} 0
        # HELP socketpush_messages_recovered_total Messages sent from history to reconnecting clients and to fill gaps in live streams.
        # TYPE socketpush_messages_recovered_total counter
        socketpush_messages_recovered_total 0
        # HELP socketpush_publishes_deduplicated_total Publishes whose id the stream held already (a retry), so they were neither appended nor delivered again.
        # TYPE socketpush_publishes_deduplicated_total counter
        socketpush_publishes_deduplicated_total 0
        # HELP socketpush_history_messages Messages kept in the history of the streams this node owns.
        # TYPE socketpush_history_messages gauge
        socketpush_history_messages 0
        # HELP socketpush_history_bytes What the kept messages cost, counted against history.maxBytes.
        # TYPE socketpush_history_bytes gauge
        socketpush_history_bytes 0
        # HELP socketpush_history_streams Streams this node holds a history for.
        # TYPE socketpush_history_streams gauge
        socketpush_history_streams 0
        """;

    [Fact]
    public async Task A_fresh_node_exports_every_family_with_its_help_type_and_zero_series_and_nothing_else()
    {
        await using var node = await TestNode.StartAsync();
        var lines = (await node.Admin.GetStringAsync("/metrics")).Split('\n');
        var expected = FreshNode.Split('\n').ToHashSet(StringComparer.Ordinal);

        Assert.Empty(expected.Except(lines));
        Assert.Single(lines, line => line.StartsWith(AppliedAt, StringComparison.Ordinal));
        Assert.DoesNotContain(lines, line => line.Contains("socketpush_", StringComparison.Ordinal)
            && !expected.Contains(line) && !line.StartsWith(AppliedAt, StringComparison.Ordinal));
        // The host's own meters (Kestrel, hosting) come from the node's meter factory too; they are not exported.
        Assert.All(
            lines.Where(line => line.StartsWith("# TYPE ", StringComparison.Ordinal)),
            type => Assert.Matches("^# TYPE (socketpush|process|dotnet)_[a-z_]+ (counter|gauge|histogram)$", type));
    }

    [Fact]
    public async Task Two_nodes_in_one_process_keep_their_own_figures()
    {
        await using var a = await TestNode.StartAsync();
        await using var b = await TestNode.StartAsync();
        const string Published = "socketpush_messages_published_total{kind=\"user\"}";
        const string Calls = "socketpush_api_calls_total{service=\"user\",method=\"publish\",code=\"ok\"}";

        await a.CallAsync("user", "publish", new { userId = "u1", message = 1 });
        await a.CallAsync("user", "publish", new { userId = "u1", message = 2 });
        await b.CallAsync("user", "publish", new { userId = "u1", message = 3 });

        Assert.Equal(2, await a.MetricAsync(Published));
        Assert.Equal(2, await a.MetricAsync(Calls));
        Assert.Equal(1, await b.MetricAsync(Published));
        Assert.Equal(1, await b.MetricAsync(Calls));
    }

    [Fact]
    public async Task A_message_written_to_three_connections_is_three_deliveries_in_the_latency_histogram()
    {
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = meters.GetRequiredService<IMeterFactory>();
        using var exporter = new PrometheusExporter(meterFactory);
        var metrics = new EdgeMetrics(meterFactory);
        var time = new FakeTimeProvider();
        var message = new PushMessage("channel", "c", JsonSerializer.SerializeToElement(1), time.GetTimestamp());
        time.Advance(TimeSpan.FromMilliseconds(250));

        metrics.Delivered(message, 3, time);

        var lines = await ExportAsync(exporter);
        Assert.Contains("socketpush_messages_delivered_total{kind=\"channel\"} 3", lines);
        Assert.Contains("socketpush_delivery_latency_seconds_count{kind=\"channel\"} 3", lines);
        Assert.Contains("socketpush_delivery_latency_seconds_sum{kind=\"channel\"} 0.75", lines);
        Assert.Contains("socketpush_delivery_latency_seconds_bucket{kind=\"channel\",le=\"0.2048\"} 0", lines);
        Assert.Contains("socketpush_delivery_latency_seconds_bucket{kind=\"channel\",le=\"0.4096\"} 3", lines);
        Assert.Contains("socketpush_delivery_latency_seconds_count{kind=\"user\"} 0", lines);
    }

    [Fact]
    public async Task Each_kind_of_instrument_lands_in_its_Prometheus_type_and_other_meters_stay_out()
    {
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = meters.GetRequiredService<IMeterFactory>();
        using var exporter = new PrometheusExporter(meterFactory);
        var meter = meterFactory.Create("SocketPush.Test");
        var reasons = MetricLabels.One("reason", "counted");
        var counted = reasons.Create(meter, "t_dropped_total", name => meter.CreateCounter<long>(name, description: "Dropped."));
        long observed = 5;
        // A counted and an observed instrument of one name are one family, as the node's and the gossip library's peer drops.
        reasons.Create(meter, "t_dropped_total", name => meter.CreateObservableCounter(
            name, () => new Measurement<long>(observed, new KeyValuePair<string, object?>("reason", "observed")), description: "Dropped."));
        var open = meter.CreateUpDownCounter<long>("t_open", description: "Open.");
        var version = meter.CreateGauge<long>("t_version", description: "Version.");
        meter.CreateObservableGauge("t_backlog", () => 7, description: "Backlog.");
        meterFactory.Create("Microsoft.AspNetCore.Server.Kestrel").CreateCounter<long>("kestrel.connections").Add(1);
        using var elsewhere = new Meter("SocketPush.Elsewhere");
        elsewhere.CreateCounter<long>("t_elsewhere_total").Add(1);

        counted.Add(2, new KeyValuePair<string, object?>("reason", "counted"));
        open.Add(3);
        open.Add(-1);
        version.Record(4);
        version.Record(2);
        var lines = await ExportAsync(exporter);

        Assert.Contains("# HELP t_dropped_total Dropped.", lines);
        Assert.Contains("# TYPE t_dropped_total counter", lines);
        Assert.Contains("t_dropped_total{reason=\"counted\"} 2", lines);
        Assert.Contains("t_dropped_total{reason=\"observed\"} 5", lines);
        Assert.Contains("# TYPE t_open gauge", lines);
        Assert.Contains("t_open 2", lines);
        Assert.Contains("# TYPE t_version gauge", lines);
        Assert.Contains("t_version 2", lines);
        Assert.Contains("# TYPE t_backlog gauge", lines);
        Assert.Contains("t_backlog 7", lines);
        Assert.DoesNotContain(lines, line => line.Contains("kestrel", StringComparison.Ordinal) || line.Contains("t_elsewhere", StringComparison.Ordinal));

        observed = 9;
        Assert.Contains("t_dropped_total{reason=\"observed\"} 9", await ExportAsync(exporter));
    }

    private static async Task<string[]> ExportAsync(PrometheusExporter exporter)
    {
        using var stream = new MemoryStream();
        await exporter.Registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()).Split('\n');
    }
}
