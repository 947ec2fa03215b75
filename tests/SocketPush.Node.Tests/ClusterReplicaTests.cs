using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;

namespace SocketPush.Node.Tests;

/// <summary>What survives a node that goes: crashed (its copies elsewhere are what is left) or stopped (it hands over first).</summary>
public sealed class ClusterReplicaTests
{
    private const int Users = 300;

    [Fact]
    public async Task A_crashed_node_loses_no_session_or_subscription_and_every_key_is_back_to_three_copies()
    {
        await using var cluster = await TestCluster.StartAsync(4, c =>
        {
            c.Cluster.Replicas = 3;
            // The crashed node's own stop, at the end, cannot hand anything over: it gives up after a second.
            c.Cluster.LeaveTimeout = TimeSpan.FromSeconds(1);
        });
        var users = Enumerable.Range(0, Users).Select(i => $"replica-{i}").ToArray();
        await Parallel.ForAsync(0, Users, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var (userId, node) = (users[i], cluster[i % 4]);
            await node.CallAsync("auth", "set", new { userId, sessionId = "s-" + userId });
            await node.CallAsync("channel", "subscribe", new { userId, channelId = "replica/" + (userId.Length % 5) });
        });

        // Its records go with it: only the copies on the other replicas are left.
        await cluster.CrashNodeAsync(cluster[1]);

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

    [Fact]
    public async Task A_stopping_node_hands_every_record_over_and_moves_its_clients_before_it_goes()
    {
        // One copy of each key: whatever the stopping node owns survives only through its handoff.
        await using var cluster = await TestCluster.StartAsync(3, c =>
        {
            c.Cluster.Replicas = 1;
            c.Cluster.WriteQuorum = 1;
        });
        var leaving = cluster[1];
        var users = Enumerable.Range(0, 100).Select(i => $"leave-{i}").ToArray();
        foreach (var userId in users)
        {
            await cluster[0].CallAsync("auth", "set", new { userId, sessionId = "s-" + userId });
            await cluster[0].CallAsync("channel", "subscribe", new { userId, channelId = "leave/news" });
        }

        var client = cluster.UserOwnedBy(leaving, "leave-");
        await using var hub = leaving.Hub(client, "s-" + client, Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets);
        var moved = TestNode.Inbox(hub, "moved");
        // Told to move, the client goes, as one does once connected to the new owner: the node waits for that.
        hub.On<JsonElement>("moved", m => _ = Task.Run(() => hub.StopAsync()));
        await hub.StartAsync();
        await leaving.WaitForConnectionsAsync(client, 1);
        Assert.True(leaving.Service<SocketPush.Node.Cluster.Records.RecordStore>().LiveCounts().Users > 0, "the stopping node owns some users");

        await cluster.StopNodeAsync(leaving);

        var target = (await TestNode.NextAsync(moved)).GetProperty("url").GetString();
        Assert.Equal(cluster.OwnerOf("u:" + client).ClientUrl, target);
        foreach (var node in cluster.Nodes)
        {
            foreach (var userId in users)
            {
                Assert.Equal(userId, (await node.CallAsync("auth", "check", new { sessionId = "s-" + userId })).GetString());
                Assert.Equal(["leave/news"], (await node.CallAsync("channel", "getSubscriptions", new { userId })).Deserialize<string[]>()!);
            }

            Assert.Equal(100, (await node.CallAsync("channel", "getSubscribers", new { channelId = "leave/news" })).GetArrayLength());
        }
    }
}
