using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Tests;

/// <summary>A peer call whose link drops before the answer: sent once more on a new link when it is safe to repeat, failed when not.</summary>
public sealed class PeerRetryTests
{
    [Fact]
    public async Task A_call_whose_link_drops_goes_once_more_on_a_new_link_and_a_delivery_does_not()
    {
        // Slow failure detection and a long request timeout: the link drops (LiteNetLib's 5 s of silence) long before either.
        static void Slow(Configuration.NodeConfig c)
        {
            c.Cluster.Swim.ProbeInterval = TimeSpan.FromSeconds(2);
            c.Cluster.Swim.ProbeTimeout = TimeSpan.FromSeconds(1);
            c.Cluster.Swim.SuspicionMult = 8;
            c.Cluster.RequestTimeout = TimeSpan.FromSeconds(30);
        }

        await using var cluster = await TestCluster.StartAsync(1, Slow);
        var a = cluster[0];
        var seeds = new List<string> { a.Host.Identity.ClusterEndpoint };
        var b = await TestNode.StartAsync(c =>
        {
            c.Node.Id = "n2";
            c.Cluster.Seeds = seeds;
            Slow(c);
        });
        TestNode? restarted = null;
        try
        {
            await Eventually.TrueAsync(
                () => a.Service<ClusterMembership>().View.Ring.NodeCount == 2 && b.Service<ClusterMembership>().View.Ring.NodeCount == 2,
                "both rings hold both nodes");
            var router = a.Service<ClusterRouter>();
            await router.AskAsync("n2", new RecordsCount(), CancellationToken.None);

            // n2's cluster port closes with two calls under way. When the link is found dead the delivery fails, and
            // then n2 comes back on the same port, where the repeated count reaches it (a connect is retried for 5 s).
            var port = int.Parse(b.Host.Identity.ClusterEndpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
            await b.Service<ClusterMembership>().Gossip.DisposeAsync();
            var count = router.AskAsync("n2", new RecordsCount(), CancellationToken.None);
            var deliver = router.AskAsync("n2", new EdgeDeliver(PublicationKind.User, null, "{}"u8.ToArray(), 0, [], ownersDeliver: false, epoch: null, offset: 0), CancellationToken.None);
            await Eventually.TrueAsync(() => deliver.IsCompleted, "the link to n2 is found dead");
            Assert.False(count.IsCompleted, "the count failed with the delivery");
            restarted = await TestNode.StartAsync(c =>
            {
                c.Node.Id = "n2";
                c.Node.ClusterPort = port;
                c.Cluster.Seeds = seeds;
                Slow(c);
            });

            // Unreachable, not an answer of n2's: a publish would wait for a new owner; the message names the node.
            var lost = await Assert.ThrowsAsync<PeerUnreachableException>(() => deliver);
            Assert.True(lost.Code == ErrorCodes.Unavailable, lost.Code + ": " + lost.Message);
            Assert.Contains("node n2 cannot answer: its link", lost.Message, StringComparison.Ordinal);
            Assert.Contains("was lost", lost.Message, StringComparison.Ordinal);
            Assert.NotNull(await count);
            Assert.Equal(1, await a.MetricAsync("socketpush_forwarded_calls_total{service=\"records\",method=\"count\",result=\"retried\"}"));
        }
        finally
        {
            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }

            await b.DisposeAsync();
        }
    }
}
