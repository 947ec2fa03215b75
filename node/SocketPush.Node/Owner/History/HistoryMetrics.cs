using System.Diagnostics.Metrics;

namespace SocketPush.Node.Owner.History;

/// <summary>History on this node: messages and bytes kept, evictions by reason, publishes not appended twice.</summary>
internal sealed class HistoryMetrics
{
    private readonly Counter<long> _evicted;
    private readonly Counter<long> _deduplicated;
    private readonly long[] _evictedByReason = new long[Reasons.Length];
    private HistoryStore? _store;

    /// <summary>Why messages leave a history, the labels of the eviction counter.</summary>
    public static readonly string[] Reasons = ["size", "age", "bytes", "rule", "moved"];

    public HistoryMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create("SocketPush.History");
        _evicted = MetricLabels.One("reason", Reasons).Create(meter, "socketpush_history_evicted_total", name => meter.CreateCounter<long>(
            name, description: "Messages dropped from history: beyond a stream's size, older than its age, beyond history.maxBytes, their rule was removed, or their stream moved to other replicas."));
        _deduplicated = meter.CreateCounter<long>("socketpush_publishes_deduplicated_total",
            description: "Publishes whose id the stream held already (a retry), so they were neither appended nor delivered again.");
        meter.CreateObservableGauge("socketpush_history_messages", () => Volatile.Read(ref _store)?.Messages ?? 0,
            description: "Messages kept in the history of the streams this node owns.");
        meter.CreateObservableGauge("socketpush_history_bytes", () => Volatile.Read(ref _store)?.Bytes ?? 0, unit: "By",
            description: "What the kept messages cost, counted against history.maxBytes.");
        meter.CreateObservableGauge("socketpush_history_streams", () => Volatile.Read(ref _store)?.Streams ?? 0,
            description: "Streams this node holds a history for.");
    }

    public void Evicted(int count, string reason)
    {
        if (count > 0)
        {
            _evicted.Add(count, new KeyValuePair<string, object?>("reason", reason));
            Interlocked.Add(ref _evictedByReason[Array.IndexOf(Reasons, reason)], count);
        }
    }

    /// <summary>Messages evicted since the node started, by reason (for manager.status).</summary>
    public Dictionary<string, long> EvictedByReason() =>
        Reasons.Select((reason, i) => (reason, Interlocked.Read(ref _evictedByReason[i]))).ToDictionary(r => r.reason, r => r.Item2, StringComparer.Ordinal);

    public void Deduplicated() => _deduplicated.Add(1);

    /// <summary>Shows the store's sizes.</summary>
    public void Observe(HistoryStore store) => Volatile.Write(ref _store, store);
}
