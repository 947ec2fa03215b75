using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using SocketPush.Node.Cluster;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Owner.Records;

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
        var crashed = cluster[1].Host.Identity.NodeId;
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

        // And every survivor says so: the crashed member dead, no key below R copies, no copy owed.
        await Eventually.PassesAsync(
            async () =>
            {
                foreach (var node in cluster.Nodes)
                {
                    var status = await node.CallAsync("manager", "status", new { });
                    var member = status.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("nodeId").GetString() == crashed);
                    Assert.Equal("dead", member.GetProperty("state").GetString());
                    Assert.Equal(0, status.GetProperty("replication").GetProperty("keysUnderReplicated").GetInt32());
                    Assert.Equal(0, status.GetProperty("replication").GetProperty("missingCopies").GetInt32());
                    Assert.Equal(3, status.GetProperty("replication").GetProperty("copiesPossible").GetInt32());
                    Assert.Equal(0, await node.MetricAsync("socketpush_keys_under_replicated"));
                }
            },
            "the survivors report the crashed node dead and every key at three copies");
    }

    [Fact]
    public async Task A_handoff_cut_midway_loses_nothing_the_old_holder_keeps_what_the_new_one_did_not_acknowledge()
    {
        // One copy of each key: a record the old holder dropped too early would be nowhere.
        await using var cluster = await TestCluster.StartAsync(2, c =>
        {
            c.Cluster.Replicas = 1;
            c.Cluster.WriteQuorum = 1;
            c.Cluster.RequestTimeout = TimeSpan.FromSeconds(1);
            c.Cluster.LeaveTimeout = TimeSpan.FromSeconds(1);
        });
        // Enough records that the handoff to a third node takes many batches (each of HandoffSender.HandoffBatch):
        // put straight into each owner's store, as the owner's own writes.
        const int users = 40_000;
        var userIds = Enumerable.Range(0, users).Select(i => $"cut-{i}").ToArray();
        foreach (var userId in userIds)
        {
            cluster.OwnerOf("u:" + userId).Service<RecordStore>().SetSession(userId, "s-" + userId);
            cluster.OwnerOf("s:s-" + userId).Service<RecordStore>().BindSession("s-" + userId, userId);
        }

        var old = cluster.Nodes.ToArray();
        var joining = await cluster.AddNodeAsync();
        var joiningStore = joining.Service<RecordStore>();
        // The cut: the moment the first handed-over records arrive, the new node goes silent on the data plane
        // (gossip goes on, so it stays their owner and the old holders keep trying).
        while (joiningStore.IsEmpty)
        {
            await Task.Yield();
        }

        joining.Service<PeerLinks>().Dispose();

        var view = joining.Service<ClusterMembership>().View;
        string[] keys = [.. userIds.SelectMany(u => new[] { "u:" + u, "s:s-" + u })];
        bool Holds(TestNode node, string key) => key[0] == 'u'
            ? node.Service<RecordStore>().SessionOf(key[2..]) is not null
            : node.Service<RecordStore>().UserOfSession(key[2..]) is not null;

        // Wait until each old holder has had a batch go unanswered (the request timeout) and so decided what to keep.
        await Eventually.TrueAsync(
            async () => (await Task.WhenAll(old.Select(n => n.MetricAsync("socketpush_forwarded_calls_total{service=\"records\",method=\"merge\",result=\"unavailable\"}")))).All(failed => failed > 0),
            "a handoff batch of each old holder failed");
        var lost = keys.Where(k => !Holds(joining, k) && !old.Any(n => Holds(n, k))).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} records are nowhere, e.g. {string.Join(", ", lost.Take(5))}");
        var handedOver = keys.Count(k => view.Owner(k) == joining.Host.Identity.NodeId && Holds(joining, k));
        var stillOld = keys.Count(k => view.Owner(k) == joining.Host.Identity.NodeId && !Holds(joining, k));
        Assert.True(handedOver > 0 && stillOld > 0, $"the cut came midway: {handedOver} records of the new node arrived, {stillOld} did not");
        // Every record the new node owns and lacks is on its old holder, which counts it as pending.
        Assert.Equal(stillOld, old.Sum(n => keys.Count(k => view.Owner(k) == joining.Host.Identity.NodeId && !Holds(joining, k) && Holds(n, k))));
        Assert.True(old.Sum(n => n.Service<HandoffSender>().PendingHandoff) >= stillOld);
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
        Assert.True(leaving.Service<SocketPush.Node.Owner.Records.RecordStore>().LiveCounts().Users > 0, "the stopping node owns some users");

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
