using System.Text;
using SocketPush.LoadTest.PeerTraffic;

namespace SocketPush.LoadTest.Tests;

/// <summary>The pure parts of the peer path set: calls, bytes and round trips from two reads of several nodes' /metrics.</summary>
public sealed class PeerFiguresTests
{
    private static readonly Dictionary<string, double> Before = new()
    {
        ["n2 socketpush_forwarded_calls_total{service=\"edge\",method=\"deliver\",result=\"ok\"}"] = 50,
        ["n2 socketpush_peer_bytes_total{direction=\"sent\"}"] = 46_000,
        ["n3 socketpush_peer_bytes_total{direction=\"sent\"}"] = 2_000,
        ["n2 socketpush_peer_request_seconds_sum"] = 0.1,
        ["n2 socketpush_peer_request_seconds_count"] = 50,
        ["n2 socketpush_peer_request_seconds_bucket{le=\"0.0004\"}"] = 10,
        ["n2 socketpush_peer_request_seconds_bucket{le=\"0.0008\"}"] = 40,
        ["n2 socketpush_peer_request_seconds_bucket{le=\"0.0016\"}"] = 50,
        ["n2 socketpush_peer_request_seconds_bucket{le=\"+Inf\"}"] = 50,
        ["n1 socketpush_antientropy_rounds_total{result=\"in_sync\"}"] = 4,
    };

    private static readonly Dictionary<string, double> After = new()
    {
        ["n2 socketpush_forwarded_calls_total{service=\"edge\",method=\"deliver\",result=\"ok\"}"] = 70,
        ["n1 socketpush_forwarded_calls_total{service=\"records\",method=\"digest\",result=\"ok\"}"] = 1,
        ["n2 socketpush_peer_bytes_total{direction=\"sent\"}"] = 64_400,
        ["n3 socketpush_peer_bytes_total{direction=\"sent\"}"] = 2_860,
        ["n2 socketpush_peer_request_seconds_sum"] = 0.13,
        ["n2 socketpush_peer_request_seconds_count"] = 70,
        ["n2 socketpush_peer_request_seconds_bucket{le=\"0.0004\"}"] = 11,
        ["n2 socketpush_peer_request_seconds_bucket{le=\"0.0008\"}"] = 50,
        ["n2 socketpush_peer_request_seconds_bucket{le=\"0.0016\"}"] = 69,
        ["n2 socketpush_peer_request_seconds_bucket{le=\"+Inf\"}"] = 70,
        ["n1 socketpush_antientropy_rounds_total{result=\"in_sync\"}"] = 5,
        ["n3 socketpush_antientropy_rounds_total{result=\"repaired\"}"] = 1,
    };

    [Fact]
    public void Calls_bytes_and_rounds_are_each_node_s_growth()
    {
        Assert.Equal(
            new Dictionary<string, long> { ["n2 edge.deliver ok"] = 20, ["n1 records.digest ok"] = 1 },
            PeerFigures.Calls(Before, After));
        Assert.Equal(18_400, PeerFigures.Bytes(Before, After, "n2", "sent"));
        Assert.Equal(860, PeerFigures.Bytes(Before, After, "n3", "sent"));
        Assert.Equal(0, PeerFigures.Bytes(Before, After, "n1", "sent"));
        Assert.Equal(new Dictionary<string, long> { ["in_sync"] = 1, ["repaired"] = 1 }, PeerFigures.Rounds(Before, After));
    }

    [Fact]
    public void Nodes_are_idle_when_every_byte_sent_was_received_and_every_call_served_was_finished()
    {
        var idle = new Dictionary<string, double>
        {
            ["n1 socketpush_peer_bytes_total{direction=\"sent\"}"] = 3_000,
            ["n1 socketpush_peer_bytes_total{direction=\"received\"}"] = 100,
            ["n2 socketpush_peer_bytes_total{direction=\"sent\"}"] = 100,
            ["n2 socketpush_peer_bytes_total{direction=\"received\"}"] = 3_000,
            ["n1 socketpush_forwarded_calls_total{service=\"records\",method=\"digest\",result=\"ok\"}"] = 2,
            ["n1 socketpush_forwarded_calls_total{service=\"records\",method=\"digest\",result=\"overloaded\"}"] = 5,
            ["n2 socketpush_peer_calls_served_total{service=\"records\",method=\"digest\"}"] = 2,
        };
        // n2 has taken a third request and computes its answer: served, not finished.
        var serving = new Dictionary<string, double>(idle)
        {
            ["n1 socketpush_peer_bytes_total{direction=\"sent\"}"] = 4_500,
            ["n2 socketpush_peer_bytes_total{direction=\"received\"}"] = 4_500,
            ["n2 socketpush_peer_calls_served_total{service=\"records\",method=\"digest\"}"] = 3,
        };
        // The request is on its way: sent, not yet received.
        var sending = new Dictionary<string, double>(idle) { ["n1 socketpush_peer_bytes_total{direction=\"sent\"}"] = 4_500 };

        Assert.True(PeerFigures.Idle(idle));
        Assert.False(PeerFigures.Idle(serving));
        Assert.False(PeerFigures.Idle(sending));
    }

    [Fact]
    public void Round_trips_give_an_exact_mean_and_percentiles_as_the_bound_of_their_bucket()
    {
        var trips = PeerFigures.RoundTripsOf(Before, After, "n2");

        Assert.Equal(20, trips.Count);
        Assert.Equal(1.5, trips.MeanMs, precision: 9);
        // Growth per bucket, cumulative: 1 call ≤ 0.4 ms, 10 ≤ 0.8 ms, 19 ≤ 1.6 ms, 20 in all.
        Assert.Equal(0.8, trips.AtMostMs(0.50), precision: 9);
        Assert.Equal(1.6, trips.AtMostMs(0.95), precision: 9);
        Assert.Equal(double.PositiveInfinity, trips.AtMostMs(0.99));

        var twice = trips.Add(trips);
        Assert.Equal(40, twice.Count);
        Assert.Equal(trips.MeanMs, twice.MeanMs, precision: 9);
        Assert.True(double.IsNaN(RoundTrips.None.MeanMs));
    }

    [Fact]
    public void Peer_path_option_compares_ae9edda_with_HEAD_on_no_system_of_the_other_sets()
    {
        var full = RunOptions.Parse(["--peer-path"]);
        var quick = RunOptions.Parse(["--peer-path", "--quick", "--before", "v1", "--after", "/tmp/x/SocketPush.Node.dll"]);

        Assert.Equal([Scenarios.PeerPath], full.ScenarioNames);
        Assert.Empty(full.Systems);
        Assert.Equal(("ae9edda", "HEAD"), (full.Before, full.After));
        Assert.Equal((100, 500, 100_000, 6), (full.PeerBatchUsers, full.PeerPublishes, full.HandoffUsers, full.PeerAntiEntropyRounds));
        Assert.Equal(("v1", "/tmp/x/SocketPush.Node.dll"), (quick.Before, quick.After));
        Assert.Equal((200, 10_000, 3), (quick.PeerPublishes, quick.HandoffUsers, quick.PeerAntiEntropyRounds));
        Assert.Throws<ArgumentException>(() => RunOptions.Parse(["--peer-path", "--peer-window", "0"]));
    }

    [Fact]
    public void Report_gives_each_measurement_and_after_over_before()
    {
        var peer = new PeerPathResults
        {
            BatchUsers = 100,
            HandoffUsers = 1_000,
            Builds = [new NodeBuildInfo { Label = "before", Given = "ae9edda", Commit = "ae9edda" }, new NodeBuildInfo { Label = "after", Given = "HEAD", Commit = "0123abc" }],
            Delivery =
            [
                new DeliveryResult { Build = "before", Round = 1, RequestBytes = 900, ResponseBytes = 40, BytesPerMessage = 470, RoundTripMeanMs = 0.5 },
                new DeliveryResult { Build = "after", Round = 1, RequestBytes = 450, ResponseBytes = 20, BytesPerMessage = 235, RoundTripMeanMs = 0.4 },
            ],
        };
        var sb = new StringBuilder();

        PeerPathReport.Append(sb, peer);

        var text = sb.ToString();
        Assert.Contains("### a delivery batch of 100 users", text, StringComparison.Ordinal);
        Assert.Contains("| before | 1 | 0 (0) | 900 | 40 | 470 | 0.500 |", text, StringComparison.Ordinal);
        Assert.Contains("| delivery batch: bytes per peer message | 470 | 235 | 0.50× |", text, StringComparison.Ordinal);
        Assert.Contains("| handoff: records/s | – | – | n/a |", text, StringComparison.Ordinal);
    }
}
