using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;

namespace SocketPush.Node.Tests;

/// <summary>Three real nodes in this process (real UDP gossip and peer channel, real Kestrel), seeded with the first.</summary>
public sealed class ClusterTests : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    private IReadOnlyList<TestNode> Nodes => _cluster.Nodes;

    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync(3);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Every_node_gives_the_same_answers_and_names_the_owner()
    {
        for (var u = 0; u < 20; u++)
        {
            var userId = $"cu{u}";
            await Nodes[u % 3].CallAsync("auth", "set", new { userId, sessionId = $"s-{userId}" });
            await Nodes[(u + 1) % 3].CallAsync("channel", "subscribe", new { userId, channelId = "cluster/news" });
        }

        var frontends = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in Nodes)
        {
            for (var u = 0; u < 20; u++)
            {
                var userId = $"cu{u}";
                Assert.Equal(userId, (await node.CallAsync("auth", "check", new { sessionId = $"s-{userId}" })).GetString());
                Assert.Equal(["cluster/news"], (await node.CallAsync("channel", "getSubscriptions", new { userId })).Deserialize<string[]>()!);
                var frontend = (await node.CallAsync("user", "getFrontendServer", new { userId })).GetString()!;
                Assert.Equal(_cluster.OwnerOf("u:" + userId).ClientUrl, frontend);
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
        var userId = _cluster.UserOwnedBy(Nodes[2], "hop");
        await Nodes[0].CallAsync("auth", "set", new { userId, sessionId = "hop-session" });
        await Nodes[0].CallAsync("channel", "subscribe", new { userId, channelId = "hops" });

        var received = new List<JsonElement>();
        await using var hub = Nodes[1].Hub(userId, "hop-session", Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets);
        hub.On<JsonElement>("message", m =>
        {
            lock (received)
            {
                received.Add(m);
            }
        });
        await hub.StartAsync();
        await Nodes[2].WaitForConnectionsAsync(userId, 1);

        Assert.Equal(1, (await Nodes[0].CallAsync("user", "publish", new { userId, message = new { n = 1 } })).GetInt32());
        Assert.Equal(1, (await Nodes[1].CallAsync("channel", "publish", new { channelId = "hops", message = new { n = 2 } })).GetInt32());
        await Eventually.TrueAsync(() => { lock (received) { return received.Count == 2; } }, "both messages arrived");
    }

    [Fact]
    public async Task Sse_on_a_non_owner_answers_307_to_the_owner()
    {
        var userId = _cluster.UserOwnedBy(Nodes[1], "sse");
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(Nodes[0].ClientUrl) };
        using var response = await http.GetAsync($"/sse?userId={userId}&sessionId=x");
        Assert.Equal(System.Net.HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.StartsWith(Nodes[1].ClientUrl + "/sse?", response.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_shows_three_alive_members_and_the_same_shares_on_every_node()
    {
        var shares = new List<string>();
        foreach (var node in Nodes)
        {
            var status = await node.CallAsync("manager", "status", new { });
            var members = status.GetProperty("members").EnumerateArray().ToList();
            Assert.Equal(3, members.Count(m => m.GetProperty("state").GetString() == "alive"));
            shares.Add(string.Join(",", members.Select(m => $"{m.GetProperty("nodeId").GetString()}={m.GetProperty("ringShare").GetDecimal()}")));
        }

        Assert.Single(shares.Distinct());
    }
}
