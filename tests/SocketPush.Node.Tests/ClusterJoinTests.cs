using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using SocketPush.Client.Services;

namespace SocketPush.Node.Tests;

/// <summary>A cluster of its own that a fourth node joins while the backend keeps publishing.</summary>
public sealed class ClusterJoinTests
{
    private const int Users = 1000;
    private const int Connected = 40;

    [Fact]
    public async Task A_fourth_node_joins_under_load_loses_no_session_or_subscription_and_moved_clients_reconnect_to_it()
    {
        await using var cluster = await TestCluster.StartAsync(3);
        var ids = Enumerable.Range(0, Users).Select(i => $"j{i}").ToArray();
        await Parallel.ForEachAsync(Enumerable.Range(0, Users), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            await cluster[i % 3].CallAsync("auth", "set", new { userId = ids[i], sessionId = "s-" + ids[i] });
            await cluster[i % 3].CallAsync("channel", "subscribe", new { userId = ids[i], channelId = ChannelOf(i) });
        });
        var ownersBefore = ids.ToDictionary(u => u, u => cluster.OwnerOf("u:" + u).Host.Identity.NodeId, StringComparer.Ordinal);

        var clients = new Dictionary<string, (HubConnection Hub, ChannelReader<JsonElement> Moved)>(StringComparer.Ordinal);
        using var stopLoad = new CancellationTokenSource();
        Task? load = null;
        try
        {
            foreach (var userId in ids.Take(Connected))
            {
                // Through n1, with negotiate: each ends on its owner.
                var hub = cluster[0].Hub(userId, "s-" + userId, HttpTransportType.WebSockets);
                clients[userId] = (hub, TestNode.Inbox(hub, "moved"));
                await hub.StartAsync();
                await cluster.OwnerOf("u:" + userId).WaitForConnectionsAsync(userId, 1);
            }

            var loadCalls = 0;
            var loadFailures = new ConcurrentQueue<string>();
            load = Task.Run(async () =>
            {
                for (var i = 0; !stopLoad.IsCancellationRequested; i++)
                {
                    using var response = i % 2 == 0
                        ? await cluster[i % 3].Admin.PostAsJsonAsync("/api/channel/publish", new { channelId = $"join/{i % 10}", message = i })
                        : await cluster[i % 3].Admin.PostAsJsonAsync("/api/user/publish", new { userId = ids[Connected + (i % (Users - Connected))], message = i });
                    if (!response.IsSuccessStatusCode)
                    {
                        loadFailures.Enqueue($"{response.RequestMessage!.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    }

                    Interlocked.Increment(ref loadCalls);
                }
            });
            await Eventually.TrueAsync(() => Volatile.Read(ref loadCalls) > 0, "the load runs");

            var fourth = await cluster.AddNodeAsync();
            var callsAtJoin = Volatile.Read(ref loadCalls);
            var ownersAfter = ids.ToDictionary(u => u, u => cluster.OwnerOf("u:" + u).Host.Identity.NodeId, StringComparer.Ordinal);
            await Eventually.PassesAsync(() => AssertRecordsOnTheirOwnersAsync(cluster, ids), "every record is on its owner", TimeSpan.FromSeconds(30));
            await Eventually.TrueAsync(() => Volatile.Read(ref loadCalls) > callsAtJoin, "the load went on during the handoff");
            await stopLoad.CancelAsync();
            await load;
            Assert.Empty(loadFailures);

            await cluster.AssertStatusAgreesAsync(alive: 4);
            await Task.WhenAll(cluster.Nodes.Select(node => Parallel.ForEachAsync(Enumerable.Range(0, Users), async (i, cancellationToken) =>
            {
                // The routed services, as the API calls them.
                Assert.Equal(ids[i], await node.Service<IAuthService>().CheckAsync("s-" + ids[i], cancellationToken));
                Assert.Equal(new[] { ChannelOf(i) }, await node.Service<IChannelService>().GetSubscriptionsAsync(ids[i], cancellationToken));
            })));

            var moved = ids.Where(u => ownersBefore[u] != ownersAfter[u]).ToList();
            Assert.All(moved, u => Assert.Equal("n4", ownersAfter[u]));
            Assert.InRange(moved.Count / (double)Users, 0.10, 0.40);

            var movedClients = clients.Keys.Where(moved.Contains).ToList();
            Assert.NotEmpty(movedClients);
            foreach (var userId in movedClients)
            {
                var move = await TestNode.NextAsync(clients[userId].Moved);
                Assert.Equal(fourth.ClientUrl, move.GetProperty("url").GetString());
                Assert.Equal("n4", move.GetProperty("nodeId").GetString());
            }

            Assert.All(clients.Where(c => !moved.Contains(c.Key)), c => Assert.False(c.Value.Moved.TryRead(out _), $"{c.Key} did not move but was told to"));

            // The moved ones reconnect where they were told to go; then every client receives publishes again.
            var inboxes = new Dictionary<string, ChannelReader<JsonElement>>(StringComparer.Ordinal);
            foreach (var (userId, client) in clients)
            {
                var hub = client.Hub;
                if (movedClients.Contains(userId))
                {
                    await hub.DisposeAsync();
                    hub = fourth.Hub(userId, "s-" + userId, HttpTransportType.WebSockets);
                    clients[userId] = (hub, client.Moved);
                    inboxes[userId] = TestNode.Inbox(hub);
                    await hub.StartAsync();
                    await fourth.WaitForConnectionsAsync(userId, 1);
                }
                else
                {
                    inboxes[userId] = TestNode.Inbox(hub);
                }
            }

            Assert.Equal(Connected, (await cluster[1].CallAsync("channel", "publish", new { channelId = "join/connected", message = "after" })).GetInt32());
            foreach (var (userId, inbox) in inboxes)
            {
                Assert.Equal(1, (await cluster[2].CallAsync("user", "publish", new { userId, message = userId })).GetInt32());
                Assert.Equal("after", (await TestNode.NextAsync(inbox)).GetProperty("data").GetString());
                Assert.Equal(userId, (await TestNode.NextAsync(inbox)).GetProperty("data").GetString());
            }
        }
        finally
        {
            await stopLoad.CancelAsync();
            if (load is not null)
            {
                await load;
            }

            foreach (var (hub, _) in clients.Values)
            {
                await hub.DisposeAsync();
            }
        }
    }

    /// <summary>The first users are connected and subscribed to a channel of their own; the load publishes to the others only.</summary>
    private static string ChannelOf(int user) => user < Connected ? "join/connected" : $"join/{user % 10}";

    /// <summary>Every node holds exactly the user, session and channel records it is a replica of, and hands nothing off.</summary>
    private static async Task AssertRecordsOnTheirOwnersAsync(TestCluster cluster, string[] ids)
    {
        var channels = Enumerable.Range(0, Users).Select(ChannelOf).Distinct(StringComparer.Ordinal).ToList();
        foreach (var node in cluster.Nodes)
        {
            var status = await node.CallAsync("manager", "status", new { });
            var records = status.GetProperty("records");
            Assert.Equal(0, status.GetProperty("pendingHandoff").GetInt32());
            Assert.Equal(ids.Count(u => cluster.HoldsKey(node, "u:" + u)), records.GetProperty("users").GetInt32());
            Assert.Equal(ids.Count(u => cluster.HoldsKey(node, "s:s-" + u)), records.GetProperty("sessions").GetInt32());
            Assert.Equal(channels.Count(c => cluster.HoldsKey(node, "c:" + c)), records.GetProperty("channels").GetInt32());
        }
    }
}
