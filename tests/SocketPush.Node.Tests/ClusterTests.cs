using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using SocketPush.Node.Cluster;

namespace SocketPush.Node.Tests;

/// <summary>Three real nodes in this process (real UDP gossip and peer channel, real Kestrel), seeded with the first.</summary>
public sealed class ClusterTests : IAsyncLifetime
{
    private readonly List<TestNode> _nodes = [];

    public async Task InitializeAsync()
    {
        var first = await TestNode.StartAsync(c => Fast(c, "n1"));
        _nodes.Add(first);
        var seed = first.Host.Identity.ClusterEndpoint;
        for (var i = 2; i <= 3; i++)
        {
            var id = $"n{i}";
            _nodes.Add(await TestNode.StartAsync(c =>
            {
                Fast(c, id);
                c.Cluster.Seeds = [seed];
            }));
        }

        await Eventually.TrueAsync(
            () => _nodes.All(n => n.Service<ClusterMembership>().View.Ring.NodeCount == 3),
            "every node has all three in its ring");
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task Every_node_gives_the_same_answers_and_names_the_owner()
    {
        for (var u = 0; u < 20; u++)
        {
            var userId = $"cu{u}";
            await _nodes[u % 3].CallAsync("auth", "set", new { userId, sessionId = $"s-{userId}" });
            await _nodes[(u + 1) % 3].CallAsync("channel", "subscribe", new { userId, channelId = "cluster/news" });
        }

        var frontends = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in _nodes)
        {
            for (var u = 0; u < 20; u++)
            {
                var userId = $"cu{u}";
                Assert.Equal(userId, (await node.CallAsync("auth", "check", new { sessionId = $"s-{userId}" })).GetString());
                Assert.Equal(["cluster/news"], (await node.CallAsync("channel", "getSubscriptions", new { userId })).Deserialize<string[]>()!);
                var frontend = (await node.CallAsync("user", "getFrontendServer", new { userId })).GetString()!;
                var owner = _nodes.Single(n => n.Host.Identity.NodeId == node.Service<ClusterMembership>().View.Owner("u:" + userId));
                Assert.Equal(owner.ClientUrl, frontend);
                frontends.Add(frontend);
            }

            Assert.Equal(20, (await node.CallAsync("channel", "getSubscribers", new { channelId = "cluster/news" })).GetArrayLength());
            Assert.Contains("cluster/news", (await node.CallAsync("channel", "listAll", new { })).Deserialize<string[]>()!);
        }

        Assert.True(frontends.Count > 1, "20 users spread over more than one owner");
    }

    [Fact]
    public async Task A_client_sent_to_a_non_owner_ends_on_the_owner_and_receives_publishes_made_on_a_third_node()
    {
        var userId = Enumerable.Range(0, 100).Select(i => $"hop{i}")
            .First(u => _nodes[0].Service<ClusterMembership>().View.Owner("u:" + u) == "n3");
        await _nodes[0].CallAsync("auth", "set", new { userId, sessionId = "hop-session" });
        await _nodes[0].CallAsync("channel", "subscribe", new { userId, channelId = "hops" });

        var received = new List<JsonElement>();
        await using var hub = _nodes[1].Hub(userId, "hop-session", Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets);
        hub.On<JsonElement>("message", m =>
        {
            lock (received)
            {
                received.Add(m);
            }
        });
        await hub.StartAsync();
        await _nodes[2].WaitForConnectionsAsync(userId, 1);

        Assert.Equal(1, (await _nodes[0].CallAsync("user", "publish", new { userId, message = new { n = 1 } })).GetInt32());
        Assert.Equal(1, (await _nodes[1].CallAsync("channel", "publish", new { channelId = "hops", message = new { n = 2 } })).GetInt32());
        await Eventually.TrueAsync(() => { lock (received) { return received.Count == 2; } }, "both messages arrived");
    }

    [Fact]
    public async Task Sse_on_a_non_owner_answers_307_to_the_owner()
    {
        var userId = Enumerable.Range(0, 100).Select(i => $"sse{i}")
            .First(u => _nodes[0].Service<ClusterMembership>().View.Owner("u:" + u) == "n2");
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(_nodes[0].ClientUrl) };
        using var response = await http.GetAsync($"/sse?userId={userId}&sessionId=x");
        Assert.Equal(System.Net.HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.StartsWith(_nodes[1].ClientUrl + "/sse?", response.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_shows_three_alive_members_and_the_same_shares_on_every_node()
    {
        var shares = new List<string>();
        foreach (var node in _nodes)
        {
            var status = await node.CallAsync("manager", "status", new { });
            var members = status.GetProperty("members").EnumerateArray().ToList();
            Assert.Equal(3, members.Count(m => m.GetProperty("state").GetString() == "alive"));
            shares.Add(string.Join(",", members.Select(m => $"{m.GetProperty("nodeId").GetString()}={m.GetProperty("ringShare").GetDecimal()}")));
        }

        Assert.Single(shares.Distinct());
    }

    private static void Fast(SocketPush.Node.Configuration.NodeConfig config, string id)
    {
        config.Node.Id = id;
        config.Cluster.Swim.ProbeInterval = TimeSpan.FromMilliseconds(200);
        config.Cluster.Swim.ProbeTimeout = TimeSpan.FromMilliseconds(100);
        config.Cluster.Swim.GossipInterval = TimeSpan.FromMilliseconds(50);
        config.Cluster.Swim.JoinRetryInterval = TimeSpan.FromMilliseconds(200);
    }
}
