using System.Globalization;
using SocketPush.Gossip;
using SocketPush.Node.Cluster;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Tests;

/// <summary>
/// Rolling upgrades: a node process meets a member of the next wire version, in gossip and on the data plane. It
/// refuses it, says so naming the member and both versions, and counts it.
/// </summary>
public sealed class WireVersionTests
{
    private const int Newer = ClusterSettings.WireVersion + 1;

    [Fact]
    public async Task A_member_of_another_wire_version_is_refused_with_a_log_line_naming_it_and_both_versions_and_counted()
    {
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "current" });
        var options = GossipSettings.Of(new NodeConfig(), [node.ClusterEndpoint]);
        options.Port = 0;
        var metadata = new NodeMetadata("upgraded", "http://127.0.0.1:1", "http://127.0.0.1:2", Newer, 2000, 3, Leaving: false, ConfigVersion: "none").Encode();

        await using (var upgraded = Membership.Start(options, "upgraded", metadata))
        {
            var line = await node.WaitForOutputAsync(l => l.Contains("Refusing node upgraded", StringComparison.Ordinal), "the refusal of the member");
            Assert.Contains($"at {upgraded.Address}: it speaks wire version {Newer}, this node wire version {ClusterSettings.WireVersion}", line, StringComparison.Ordinal);
            Assert.Equal(1, await RefusedAsync(node, "gossip"));

            // A data-plane message in its own wire version: refused too, the member named by its address.
            byte[] call = [.. new PeerEnvelope { Id = 1, From = "upgraded", Request = new RecordsCount() }.Encode()];
            call[0] = Newer;
            Assert.True(upgraded.Peers.Send(node.ClusterEndpoint, call));
            line = await node.WaitForOutputAsync(l => l.Contains("it sent a message in wire version", StringComparison.Ordinal), "the refusal of its message");
            Assert.Contains($"Refusing node upgraded at {upgraded.Address}: it sent a message in wire version {Newer}, this node reads wire version {ClusterSettings.WireVersion}", line, StringComparison.Ordinal);
            await Eventually.TrueAsync(async () => await RefusedAsync(node, "peer_message") == 1, "the refused message is counted");
        }

        // Refused once, not at every gossip round.
        Assert.Equal(1, await RefusedAsync(node, "gossip"));
        Assert.Single(node.Output, l => l.Contains("Refusing node upgraded at", StringComparison.Ordinal) && l.Contains("it speaks", StringComparison.Ordinal));
    }

    private static async Task<double> RefusedAsync(NodeProcess node, string via)
    {
        using var http = new HttpClient();
        var sample = $"socketpush_peers_refused_total{{via=\"{via}\"}} ";
        var metrics = await http.GetStringAsync(new Uri(node.AdminUrl, "/metrics"));
        var line = metrics.Split('\n').Single(l => l.StartsWith(sample, StringComparison.Ordinal));
        return double.Parse(line[sample.Length..], CultureInfo.InvariantCulture);
    }
}
