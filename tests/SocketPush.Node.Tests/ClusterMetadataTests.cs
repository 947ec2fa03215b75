using FsCheck.Xunit;
using SocketPush.Gossip;
using SocketPush.Node.Cluster;

namespace SocketPush.Node.Tests;

/// <summary>The node's gossip metadata (<see cref="NodeMetadata"/>): the bytes gossip carries for it, and what a node refuses.</summary>
public sealed class ClusterMetadataTests
{
    private static readonly NodeMetadata Sample =
        new("n1", "https://push.example.com:8080", "http://10.0.0.5:8181", ClusterSettings.WireVersion, 2000, 3, Leaving: false, ConfigVersion: "20261207T195049.123Z-3f9a1c2b");

    [Fact]
    public void Metadata_round_trips_with_its_format_version_first()
    {
        foreach (var metadata in new[]
        {
            Sample, Sample with { Leaving = true, VirtualNodes = 16, Replicas = 1 }, Sample with { ClientUrl = "", AdminUrl = "" },
            Sample with { Standby = true }, Sample with { StandsInFor = "n7" },
        })
        {
            var bytes = metadata.Encode();

            Assert.Equal(NodeMetadata.FormatVersion, bytes[0]);
            Assert.Equal(metadata, NodeMetadata.TryDecode(bytes, out var problem));
            Assert.Null(problem);
        }
    }

    [Fact]
    public void A_node_s_own_metadata_fits_the_gossip_limit()
    {
        var identity = new NodeIdentity(new string('n', 64)) { ClientUrl = "https://" + new string('c', 100) + ":8080", AdminUrl = "https://" + new string('a', 100) + ":8181" };
        var bytes = NodeMetadata.Of(identity, new RingSettings(2000, 3), leaving: true, "20261207T195049.123Z-3f9a1c2b", new StandbyState(false, new string('d', 64))).Encode();

        Assert.InRange(bytes.Length, 1, new GossipOptions().MaxMetadataBytes);
        Assert.Equal(
            new NodeMetadata(identity.NodeId, identity.ClientUrl, identity.AdminUrl, ClusterSettings.WireVersion, 2000, 3, true, "20261207T195049.123Z-3f9a1c2b", false, new string('d', 64)),
            NodeMetadata.TryDecode(bytes, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)] // the gossip library's own encoding before metadata became opaque to it
    [InlineData(2)] // without the config layer's version and the standby fields
    [InlineData(4)]
    [InlineData(255)]
    public void Another_format_version_is_refused_before_anything_is_read(byte version)
    {
        var bytes = Sample.Encode();
        bytes[0] = version;

        Assert.Null(NodeMetadata.TryDecode(bytes, out var problem));
        Assert.Equal($"unknown format version {version}", problem);
    }

    [Fact]
    public void Empty_truncated_or_padded_metadata_is_refused_without_throwing()
    {
        var bytes = Sample.Encode();
        Assert.Null(NodeMetadata.TryDecode([], out var none));
        Assert.Equal("none", none);
        for (var length = 1; length < bytes.Length; length++)
        {
            Assert.Null(NodeMetadata.TryDecode(bytes.AsSpan(0, length), out var problem));
            Assert.NotNull(problem);
        }

        Assert.Null(NodeMetadata.TryDecode([.. bytes, 0], out var padded));
        Assert.NotNull(padded);
    }

    [Property(MaxTest = 500)]
    public void Any_bytes_are_read_or_refused_without_throwing(byte[] garbage)
    {
        foreach (var bytes in new[] { garbage, [NodeMetadata.FormatVersion, .. garbage] })
        {
            var metadata = NodeMetadata.TryDecode(bytes, out var problem);
            Assert.True((metadata is null) == (problem is not null), "a refusal says why, a reading does not");
        }
    }

    [Fact]
    public async Task A_view_routes_to_members_whose_metadata_it_reads_and_names_the_ones_it_cannot()
    {
        var ring = new RingSettings(2000, 3);
        static byte[] Of(string id, bool leaving = false, int virtualNodes = 2000, bool standby = false) =>
            new NodeMetadata(id, $"http://{id}:8080", $"http://{id}:8181", ClusterSettings.WireVersion, virtualNodes, 3, leaving, "none", standby).Encode();

        await using var n1 = Membership.Start(Options(), "n1", Of("n1"));
        await using var n2 = Membership.Start(Options(n1.Address), "n2", Of("n2"));
        await using var leaving = Membership.Start(Options(n1.Address), "n3", Of("n3", leaving: true));
        await using var standby = Membership.Start(Options(n1.Address), "n6", Of("n6", standby: true));
        await Eventually.TrueAsync(() => n1.Snapshot.Live.Count() == 4, "n1 sees n2, n3 and n6");

        var view = ClusterView.From(n1.Snapshot, "n1", ring);
        Assert.Null(view.RingProblem);
        Assert.Equal(["n1", "n2"], view.Ring.Nodes.Order(StringComparer.Ordinal));
        Assert.Equal("http://n2:8080", view.Member("n2")?.Metadata?.ClientUrl);
        Assert.True(view.Member("n3")?.Metadata?.Leaving);
        Assert.True(view.Member("n6")?.Metadata?.Standby);

        // The standby's own view: the others' ring, without itself.
        Assert.Equal(["n1", "n2"], ClusterView.From(n1.Snapshot, "n6", ring, standby: true).Ring.Nodes.Order(StringComparer.Ordinal));

        await using var garbage = Membership.Start(Options(n1.Address), "n4", "not metadata"u8.ToArray());
        await using var other = Membership.Start(Options(n1.Address), "n5", Of("n5", virtualNodes: 16));
        await Eventually.TrueAsync(() => n1.Snapshot.Live.Count() == 6, "n1 sees n4 and n5");

        view = ClusterView.From(n1.Snapshot, "n1", ring);
        Assert.Null(view.Member("n4")?.Metadata);
        Assert.Contains("n4 sent metadata this node cannot read (unknown format version 110)", view.RingProblem, StringComparison.Ordinal);
        Assert.Contains($"n5 uses wire={ClusterSettings.WireVersion} vnodes=16 replicas=3", view.RingProblem, StringComparison.Ordinal);
        Assert.Contains($"this node uses wire={ClusterSettings.WireVersion} vnodes=2000 replicas=3", view.RingProblem, StringComparison.Ordinal);
        Assert.Equal(["n1", "n2"], view.Ring.Nodes.Order(StringComparer.Ordinal));
        // Of these, the ones whose format this node cannot read are refused: not n5, whose settings only differ.
        Assert.Equal(["n4"], view.Refused.Select(r => r.NodeId));
        Assert.Contains("unknown format version 110", view.Refused[0].Why, StringComparison.Ordinal);

        var newer = new NodeMetadata("n7", "http://n7:8080", "http://n7:8181", ClusterSettings.WireVersion + 1, 2000, 3, false, "none").Encode();
        await using var upgraded = Membership.Start(Options(n1.Address), "n7", newer);
        await Eventually.TrueAsync(() => n1.Snapshot.Live.Count() == 7, "n1 sees n7");
        view = ClusterView.From(n1.Snapshot, "n1", ring);
        var refused = Assert.Single(view.Refused, r => r.NodeId == "n7");
        Assert.Equal(upgraded.Address, refused.Address);
        Assert.Equal($"it speaks wire version {ClusterSettings.WireVersion + 1}, this node wire version {ClusterSettings.WireVersion}", refused.Why);
    }

    [Fact]
    public async Task A_member_with_another_config_layer_is_named_by_the_view_and_manager_status_and_counted_by_the_metric()
    {
        await using var node = await TestNode.StartAsync(c => c.Node.Id = "n1");
        Assert.Null(node.Service<ClusterMembership>().View.ConfigProblem);
        const string Other = "20991231T000000.000Z-0badc0de";

        // A member that says it holds another layer (and answers no exchange): the versions stay apart.
        await using var member = Membership.Start(
            Options(node.Host.Identity.ClusterEndpoint),
            "n9",
            new NodeMetadata("n9", "http://n9:8080", "http://n9:8181", ClusterSettings.WireVersion, 2000, 3, Leaving: false, Other).Encode());
        await Eventually.TrueAsync(() => node.Service<ClusterMembership>().View.Member("n9")?.IsLive == true, "n1 sees n9");

        Assert.Equal(1, node.Service<ClusterMembership>().View.ConfigDisagreements);
        Assert.Equal(1, await node.MetricAsync("socketpush_cluster_config_disagreements"));
        var status = await node.CallAsync("manager", "status", new { });
        var clusterConfig = status.GetProperty("clusterConfig");
        Assert.False(clusterConfig.GetProperty("agreed").GetBoolean());
        Assert.Equal("cluster config layer versions differ: n1 has none; n9 has " + Other, clusterConfig.GetProperty("problem").GetString());
        Assert.Equal(Other, status.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("nodeId").GetString() == "n9").GetProperty("configVersion").GetString());
    }

    private static GossipOptions Options(params string[] seeds) => new()
    {
        BindAddress = "127.0.0.1",
        Port = 0,
        Seeds = seeds,
        Swim =
        {
            ProbeInterval = TimeSpan.FromMilliseconds(200),
            ProbeTimeout = TimeSpan.FromMilliseconds(100),
            GossipInterval = TimeSpan.FromMilliseconds(50),
            JoinRetryInterval = TimeSpan.FromMilliseconds(200),
        },
    };
}
