using System.Text.Json;

namespace SocketPush.Node.Tests;

/// <summary>Four nodes holding every key three times: a node that goes without handing anything over loses nothing.</summary>
public sealed class ClusterReplicaTests
{
    private const int Users = 300;

    [Fact]
    public async Task A_node_that_stops_without_handoff_loses_no_session_or_subscription_and_every_key_is_back_to_three_copies()
    {
        await using var cluster = await TestCluster.StartAsync(4, c => c.Cluster.Replicas = 3);
        var users = Enumerable.Range(0, Users).Select(i => $"replica-{i}").ToArray();
        await Parallel.ForAsync(0, Users, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var (userId, node) = (users[i], cluster[i % 4]);
            await node.CallAsync("auth", "set", new { userId, sessionId = "s-" + userId });
            await node.CallAsync("channel", "subscribe", new { userId, channelId = "replica/" + (userId.Length % 5) });
        });

        // Its records go with it: only the copies on the other replicas are left.
        await cluster.StopNodeAsync(cluster[1]);

        foreach (var node in cluster.Nodes)
        {
            foreach (var userId in users)
            {
                Assert.Equal(userId, (await node.CallAsync("auth", "check", new { sessionId = "s-" + userId })).GetString());
                Assert.Equal(["replica/" + (userId.Length % 5)], (await node.CallAsync("channel", "getSubscriptions", new { userId })).Deserialize<string[]>()!);
            }
        }

        // Three nodes left and three replicas: every node holds every record again.
        await Eventually.PassesAsync(
            async () =>
            {
                foreach (var node in cluster.Nodes)
                {
                    var records = (await node.CallAsync("manager", "status", new { })).GetProperty("records");
                    Assert.Equal(Users, records.GetProperty("users").GetInt32());
                    Assert.Equal(Users, records.GetProperty("sessions").GetInt32());
                }
            },
            "every key has three copies again",
            TimeSpan.FromSeconds(30));
    }
}
