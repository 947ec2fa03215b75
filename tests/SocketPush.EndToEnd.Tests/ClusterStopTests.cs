using System.Diagnostics;

namespace SocketPush.EndToEnd.Tests;

/// <summary>A whole cluster stopped at once (examples/cluster/stop.sh signals every node together).</summary>
public sealed class ClusterStopTests(ITestOutputHelper output)
{
    [Fact]
    public async Task NodesStoppedTogetherKnowItHandNothingToEachOtherAndEndFast()
    {
        await using var cluster = await NodeProcessCluster.StartAsync(3);
        var apis = cluster.Nodes.Select(n => new AdminApi(n.AdminUrl)).ToList();
        using var clients = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var streams = new List<HttpResponseMessage>();
        try
        {
            foreach (var api in apis)
            {
                await Eventually.TrueAsync(async () => (await api.StatusAsync()).MembersIn("alive").Count == 3, "every node sees three members alive");
            }

            // Records on every node, so that each has something to hand over when it leaves.
            for (var i = 0; i < 30; i++)
            {
                await apis[i % 3].CallAsync("auth", "set", new { userId = $"stop-{i}", sessionId = $"s-stop-{i}" });
            }

            // Clients too (each on its user's owner): a leaving node asks them to move, or closes them, as it stops.
            for (var i = 0; i < 6; i++)
            {
                var node = cluster.Nodes[i % 3];
                streams.Add(await clients.GetAsync(new Uri(node.ClientUrl, $"/sse?userId=stop-{i}&sessionId=s-stop-{i}"), HttpCompletionOption.ResponseHeadersRead));
                Assert.Equal(System.Net.HttpStatusCode.OK, streams[^1].StatusCode);
            }

            var lines = cluster.Nodes.Select(n => n.OutputLineCount).ToList();
            var stopping = Stopwatch.StartNew();
            var codes = await Task.WhenAll(cluster.Nodes.Select(n => n.StopAsync()));
            stopping.Stop();

            // The output read up to the gossip library's last word on the leave, which every leave ends with.
            var leaves = await Task.WhenAll(cluster.Nodes.Select(n => n.WaitForOutputAsync(l => l.Contains("Leaving the cluster; announcement gossiped:", StringComparison.Ordinal), "its leave")));
            var outputs = cluster.Nodes.Select((n, i) => n.OutputSince(lines[i])).ToList();
            foreach (var (node, text) in cluster.Nodes.Zip(outputs))
            {
                output.WriteLine($"--- {node.NodeId} ---\n{text}");
            }

            Assert.All(codes, code => Assert.Equal(0, code));
            foreach (var (node, text) in cluster.Nodes.Zip(outputs))
            {
                // A node that is leaving too is no failed handoff, and an empty ring is not a ring change to report.
                Assert.DoesNotContain("Sending records to node", text, StringComparison.Ordinal);
                Assert.DoesNotContain("Ring changed: 0 node(s)", text, StringComparison.Ordinal);
            }

            // Nobody left to tell is no reason to wait for the announcement to go out (the gossip library's 5 s).
            Assert.All(leaves, line => Assert.EndsWith("announcement gossiped: True", line, StringComparison.Ordinal));

            // Well under a leave that runs out its cluster.leaveTimeout (10 s); the slow machines of CI get some room.
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(8), $"stopping the three nodes took {stopping.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            streams.ForEach(s => s.Dispose());
            apis.ForEach(a => a.Dispose());
        }
    }
}
