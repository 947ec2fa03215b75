using System.Text.Json.Serialization;
using SocketPush.LoadTest.Systems;

namespace SocketPush.LoadTest;

/// <summary>One measurement of the cluster set, on one node and on three: the goal is at most 1 ms more p50.</summary>
internal sealed record ClusterComparison(
    string Measurement,
    int N,
    double OfferedPublishesPerSecond,
    ClusterSide? OneNode,
    ClusterSide? ThreeNodes)
{
    public const string ChannelLatency = "channel.publish latency";
    public const string UserLatency = "user.publish latency";
    public const string FanOut = "fan-out";

    /// <summary>The goal: the cluster adds at most this much to p50.</summary>
    public const double GoalP50DeltaMs = 1.0;

    public double? P50DeltaMs => Delta(s => s.P50Ms);

    public double? P99DeltaMs => Delta(s => s.P99Ms);

    /// <summary>Deliveries/s on three nodes ÷ on one.</summary>
    public double? DeliveriesPerSecondRatio => OneNode is { DeliveriesPerSecond: > 0 } one && ThreeNodes is { } three ? three.DeliveriesPerSecond / one.DeliveriesPerSecond : null;

    /// <summary>For the latency measurements, whether the p50 goal is met; null for the fan-out (and when a side is missing).</summary>
    [JsonPropertyName("p50GoalMet")]
    public bool? P50GoalMet => Measurement != FanOut && P50DeltaMs is { } d ? d <= GoalP50DeltaMs : null;

    public static List<ClusterComparison> From(IEnumerable<RunResult> runs) =>
        [.. runs.Where(r => r.Comparison is not null)
            .GroupBy(r => (r.Comparison!, r.N))
            .Select(g => new ClusterComparison(
                g.Key.Item1,
                g.Key.N,
                g.First().OfferedPublishesPerSecond,
                ClusterSide.From(g.LastOrDefault(r => r.System == SystemNames.SocketPush)),
                ClusterSide.From(g.LastOrDefault(r => r.System == SystemNames.SocketPushCluster))))];

    private double? Delta(Func<ClusterSide, double> figure) =>
        OneNode is { } one && ThreeNodes is { } three && double.IsFinite(figure(one)) && double.IsFinite(figure(three)) ? figure(three) - figure(one) : null;
}

/// <summary>One side of a cluster comparison: the figures of its run.</summary>
internal sealed record ClusterSide(
    int Nodes,
    string Placement,
    string Status,
    double P50Ms,
    double P99Ms,
    double P999Ms,
    double DeliveriesPerSecond,
    double ServerCpuMicrosecondsPerDelivery,
    double OtherLoadCores,
    long Delivered,
    long ExpectedDeliveries)
{
    public static ClusterSide? From(RunResult? r) => r is null
        ? null
        : new(r.Nodes, r.Placement, r.Status, r.Latency?.P50Ms ?? double.NaN, r.Latency?.P99Ms ?? double.NaN, r.Latency?.P999Ms ?? double.NaN,
            r.DeliveriesPerSecond, r.ServerCpuMicrosecondsPerDelivery, r.OtherLoadCores, r.Delivered, r.ExpectedDeliveries);
}
