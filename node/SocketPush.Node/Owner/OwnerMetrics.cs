using System.Diagnostics.Metrics;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Owner;

/// <summary>The owner's metrics: publishes accepted, subscriptions refused, clock stamps from other nodes refused.</summary>
internal sealed class OwnerMetrics
{
    private readonly Counter<long> _published;
    private readonly Counter<long> _refusedSubscriptions;
    private HybridClock? _clock;

    public OwnerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create("SocketPush.Owner");
        _published = MetricLabels.One("kind", "user", "channel").Create(
            meter, "socketpush_messages_published_total", name => meter.CreateCounter<long>(name, description: "Messages accepted by user.publish and channel.publish."));
        _refusedSubscriptions = MetricLabels.One("reason", "max_subscriptions_per_user").Create(meter, "socketpush_subscriptions_refused_total", name => meter.CreateCounter<long>(
            name, description: "channel.subscribe calls refused on this node (the owner of the user), by reason."));
        // The clock counts its refusals itself; the meter reads them at each collection.
        meter.CreateObservableCounter(
            "socketpush_clock_future_stamps_refused_total",
            () => Volatile.Read(ref _clock)?.FutureStampsRefused ?? 0,
            unit: null,
            description: "Records and presence reports from other nodes refused because their clock stamp was more than a minute ahead of this node's clock.");
    }

    public void Published(string kind) => _published.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void SubscriptionRefused(string reason) => _refusedSubscriptions.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>Shows the refusals of this node's clock.</summary>
    public void Observe(HybridClock clock) => Volatile.Write(ref _clock, clock);
}
