using SocketPush.LoadTest.Systems;

namespace SocketPush.LoadTest.Tests;

/// <summary>The pure parts of the replicas set: reading /metrics, and the handoff figures from counters before and after a join.</summary>
public sealed class ReplicaFiguresTests
{
    [Fact]
    public void Metrics_text_gives_the_picked_samples_by_name_and_labels()
    {
        const string text = """
            # HELP socketpush_handoff_records_total Records handed to the node that owns them now.
            # TYPE socketpush_handoff_records_total counter
            socketpush_handoff_records_total 1500
            socketpush_antientropy_records_total{direction="sent"} 7
            socketpush_antientropy_records_total{direction="received"} 9
            socketpush_keys_under_replicated 0
            process_cpu_seconds_total 12.5
            """;

        var samples = MetricsText.Samples(text, HandoffFigures.IsCounted);

        Assert.Equal(
            new Dictionary<string, double>
            {
                ["socketpush_handoff_records_total"] = 1500,
                ["socketpush_antientropy_records_total{direction=\"sent\"}"] = 7,
                ["socketpush_keys_under_replicated"] = 0,
            },
            samples);
    }

    [Fact]
    public void Handoff_figures_sum_each_counter_s_growth_over_the_nodes_and_the_joiner_starts_from_zero()
    {
        var before = new Dictionary<string, double>
        {
            ["n1 socketpush_handoff_records_total"] = 100,
            ["n2 socketpush_handoff_records_total"] = 0,
            ["n1 socketpush_handoff_bytes_total"] = 10_000,
            ["n1 socketpush_replica_copies_repaired_total"] = 5,
        };
        var after = new Dictionary<string, double>
        {
            ["n1 socketpush_handoff_records_total"] = 1_100,
            ["n2 socketpush_handoff_records_total"] = 1_500,
            ["n4 socketpush_handoff_records_total"] = 0,
            ["n1 socketpush_handoff_bytes_total"] = 110_000,
            ["n2 socketpush_handoff_bytes_total"] = 150_000,
            ["n1 socketpush_replica_copies_repaired_total"] = 505,
            ["n4 socketpush_antientropy_records_total{direction=\"sent\"}"] = 3,
            ["n4 socketpush_antientropy_records_total{direction=\"received\"}"] = 40,
        };

        var figures = HandoffFigures.From(before, after, seconds: 2.5);

        Assert.Equal(2_500, figures.Records);
        Assert.Equal(250_000, figures.Bytes);
        Assert.Equal(500, figures.CopiesRepaired);
        Assert.Equal(3, figures.AntiEntropyRecords);
        Assert.Equal(1_000, figures.RecordsPerSecond);
        Assert.Equal(100_000, figures.BytesPerSecond);
    }

    [Fact]
    public void A_handoff_of_no_time_has_no_rate()
    {
        var figures = HandoffFigures.From(new Dictionary<string, double>(), new Dictionary<string, double> { ["n1 socketpush_handoff_records_total"] = 10 }, 0);

        Assert.Equal(10, figures.Records);
        Assert.True(double.IsNaN(figures.RecordsPerSecond));
    }

    [Fact]
    public void Gauges_sum_over_the_nodes()
    {
        var samples = new Dictionary<string, double> { ["n1 socketpush_keys_under_replicated"] = 2, ["n3 socketpush_keys_under_replicated"] = 5, ["n3 socketpush_replica_copies_missing"] = 9 };

        Assert.Equal(7, HandoffFigures.Sum(samples, "socketpush_keys_under_replicated"));
    }

    [Fact]
    public void Replicas_option_runs_the_replicas_set_on_three_nodes_with_its_own_duration()
    {
        var full = RunOptions.Parse(["--replicas"]);
        var quick = RunOptions.Parse(["--replicas", "--quick"]);

        Assert.Equal([Scenarios.Replicas], full.ScenarioNames);
        Assert.Equal([SystemNames.SocketPushCluster], full.Systems);
        Assert.Equal([1, 2, 3], full.WriteQuorums);
        Assert.Equal(20, full.PublishSeconds);
        Assert.Equal(100_000, full.HandoffUsers);
        Assert.Equal(5, quick.PublishSeconds);
        Assert.Equal(10_000, quick.HandoffUsers);
        Assert.Throws<ArgumentException>(() => RunOptions.Parse(["--replicas", "--write-quorums", "0,4"]));
    }
}
