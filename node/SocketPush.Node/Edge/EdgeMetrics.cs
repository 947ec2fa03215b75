using System.Diagnostics.Metrics;

namespace SocketPush.Node.Edge;

/// <summary>
/// The edge's metrics: connections by transport, what reached them (deliveries and their latency), what was refused or
/// closed, and clients sent elsewhere. Its meter comes from the node's own <see cref="IMeterFactory"/>, as every area's.
/// </summary>
internal sealed class EdgeMetrics
{
    private readonly UpDownCounter<long> _connections;
    private readonly Counter<long> _rejectedConnections;
    private readonly Counter<long> _delivered;
    private readonly Histogram<double> _deliveryLatency;
    private readonly Counter<long> _slowConsumersClosed;
    private readonly Counter<long> _malformedClientMessages;
    private readonly Counter<long> _redirects;
    private readonly Counter<long> _moved;

    private readonly Counter<long> _recoveries;
    private readonly Counter<long> _recovered;
    private readonly Counter<long> _gapsFilled;

    public EdgeMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create("SocketPush.Edge");
        _connections = MetricLabels.One("transport", [.. Enum.GetValues<ClientTransport>().Select(TransportLabel)]).Create(
            meter, "socketpush_connections", name => meter.CreateUpDownCounter<long>(name, description: "Open client connections by transport."));
        _rejectedConnections = MetricLabels.One("reason", "max_connections", "max_connections_per_user").Create(
            meter, "socketpush_connections_rejected_total", name => meter.CreateCounter<long>(name, description: "Client connections refused, by reason."));
        var kinds = MetricLabels.One("kind", "user", "channel");
        _delivered = kinds.Create(
            meter, "socketpush_messages_delivered_total", name => meter.CreateCounter<long>(name, description: "Messages handed to client connections."));
        _deliveryLatency = kinds.Create(meter, "socketpush_delivery_latency_seconds", name => meter.CreateHistogram(
            name,
            unit: null,
            description: "Time from accepting a publish to writing it to a client connection.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [.. Enumerable.Range(0, 16).Select(i => 0.000_05 * Math.Pow(2, i))] }));
        _slowConsumersClosed = meter.CreateCounter<long>("socketpush_slow_consumers_closed_total", description: "Connections closed because their send queue was full.");
        _malformedClientMessages = meter.CreateCounter<long>(
            "socketpush_client_messages_malformed_total", description: "Unreadable frames or hub messages from clients; each closes its connection.");
        _redirects = MetricLabels.Of("transport").Create(
            meter, "socketpush_redirects_total", name => meter.CreateCounter<long>(name, description: "Clients sent to the node that owns their user, by transport."));
        _moved = meter.CreateCounter<long>("socketpush_moved_total", description: "Connections asked to reconnect to their user's owner (moved).");
        _recoveries = MetricLabels.One("result", "recovered", "incomplete", "failed").Create(meter, "socketpush_recoveries_total", name => meter.CreateCounter<long>(
            name, description: "Streams a reconnecting client asked to recover, by result: every missed message sent, or incomplete (history no longer holds them, or the epoch changed), or the owner could not be read."));
        _recovered = meter.CreateCounter<long>("socketpush_messages_recovered_total", description: "Messages sent from history to reconnecting clients and to fill gaps in live streams.");
        _gapsFilled = MetricLabels.One("result", "arrived", "recovered", "incomplete", "failed").Create(meter, "socketpush_gaps_filled_total", name => meter.CreateCounter<long>(
            name, description: "Gaps in a live stream a connection saw (a message past the next offset), by how they closed: the missing messages arrived live within 50 ms, or their fetch from the owner recovered them, came back incomplete, or failed."));
    }

    public void ConnectionOpened(ClientTransport transport) => _connections.Add(1, Tag("transport", TransportLabel(transport)));

    public void ConnectionClosed(ClientTransport transport) => _connections.Add(-1, Tag("transport", TransportLabel(transport)));

    public void ConnectionRejected(string reason) => _rejectedConnections.Add(1, Tag("reason", reason));

    /// <summary>Counts a message written to <paramref name="connections"/> connections, with its time since the publish.</summary>
    public void Delivered(PushMessage message, int connections, TimeProvider time)
    {
        if (connections > 0 && !message.IsServerEvent)
        {
            var kind = Tag("kind", message.Kind);
            _delivered.Add(connections, kind);
            var seconds = time.GetElapsedTime(message.PublishedTimestamp).TotalSeconds;
            // A histogram measurement has no weight (prometheus-net's Observe(value, count) had one): one per
            // connection, so the count and the sum stay per delivery.
            for (var i = 0; i < connections; i++)
            {
                _deliveryLatency.Record(seconds, kind);
            }
        }
    }

    /// <summary>A stream a client asked to recover, and how it went: <c>recovered</c>, <c>incomplete</c> or <c>failed</c>.</summary>
    public void Recovery(string result, int messages)
    {
        _recoveries.Add(1, Tag("result", result));
        _recovered.Add(messages);
    }

    /// <summary>A gap in a live stream, and how its fill went.</summary>
    public void GapFilled(string result, int messages)
    {
        _gapsFilled.Add(1, Tag("result", result));
        _recovered.Add(messages);
    }

    public void SlowConsumerClosed() => _slowConsumersClosed.Add(1);

    public void MalformedClientMessage() => _malformedClientMessages.Add(1);

    public void Redirected(string transport) => _redirects.Add(1, Tag("transport", transport));

    public void MovedSent() => _moved.Add(1);

    private static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);

    private static string TransportLabel(ClientTransport transport) => transport switch
    {
        ClientTransport.WebSockets => "websockets",
        ClientTransport.ServerSentEvents => "signalr_sse",
        ClientTransport.LongPolling => "long_polling",
        _ => "sse",
    };
}
