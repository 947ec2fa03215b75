using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using SocketPush.Client.Services;
using SocketPush.Node.Tests.HubServer;

namespace SocketPush.Node.Tests;

/// <summary>
/// options.maxConnectionsPerUser, options.maxConnections and options.maxSubscriptionsPerUser on real nodes: every
/// refusal is a clear error and a metric, and what was open before stays open.
/// </summary>
public sealed class LimitTests
{
    [Fact]
    public async Task A_user_at_maxConnectionsPerUser_is_refused_on_every_transport_and_its_open_connections_keep_receiving()
    {
        await using var node = await TestNode.StartAsync(c => c.Options.MaxConnectionsPerUser = 2);
        await node.CallAsync("auth", "set", new { userId = "u", sessionId = "s-u" });
        await using var first = node.Hub("u", "s-u", HttpTransportType.WebSockets);
        await using var second = node.Hub("u", "s-u", HttpTransportType.LongPolling);
        var inbox = TestNode.Inbox(first);
        await first.StartAsync();
        await second.StartAsync();
        await node.WaitForConnectionsAsync("u", 2);

        // The handshake of a third connection fails with the limit's message, over WebSockets and SSE alike.
        await HubTests.AssertRefusedAsync(node.Hub("u", "s-u", HttpTransportType.WebSockets), "options.maxConnectionsPerUser (2)");
        await HubTests.AssertRefusedAsync(node.Hub("u", "s-u", HttpTransportType.ServerSentEvents), "options.maxConnectionsPerUser (2)");
        // Authenticate after connecting: the invocation fails with it.
        await using var late = new HubConnectionBuilder().WithUrl($"{node.ClientUrl}/push", o => o.Transports = HttpTransportType.WebSockets).Build();
        await late.StartAsync();
        var refused = await Assert.ThrowsAsync<HubException>(() => late.InvokeAsync<string>("Authenticate", "u", "s-u"));
        Assert.Contains("options.maxConnectionsPerUser (2)", refused.Message, StringComparison.Ordinal);
        // Plain SSE: a 409 JSON error.
        using var sse = await node.Client.GetAsync("/sse?userId=u&sessionId=s-u");
        Assert.Equal(HttpStatusCode.Conflict, sse.StatusCode);
        var body = await sse.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(ErrorCodes.LimitExceeded, body.GetProperty("code").GetString());
        Assert.Contains("options.maxConnectionsPerUser (2)", body.GetProperty("error").GetString(), StringComparison.Ordinal);

        Assert.Equal(4, await node.MetricAsync("socketpush_connections_rejected_total{reason=\"max_connections_per_user\"}"));
        Assert.Equal(2, (await node.CallAsync("user", "publish", new { userId = "u", message = "still here" })).GetInt32());
        Assert.Equal("still here", (await TestNode.NextAsync(inbox)).GetProperty("data").GetString());

        // Another user is not affected, and a closed connection frees its place.
        await node.CallAsync("auth", "set", new { userId = "v", sessionId = "s-v" });
        await using var other = node.Hub("v", "s-v", HttpTransportType.WebSockets);
        await other.StartAsync();
        await second.StopAsync();
        await node.WaitForConnectionsAsync("u", 1);
        await using var again = node.Hub("u", "s-u", HttpTransportType.WebSockets);
        await again.StartAsync();
        await node.WaitForConnectionsAsync("u", 2);
    }

    [Fact]
    public async Task A_node_at_maxConnections_answers_503_before_authenticating_and_keeps_its_connections()
    {
        await using var node = await TestNode.StartAsync(c => c.Options.MaxConnections = 2);
        foreach (var user in new[] { "a", "b", "c" })
        {
            await node.CallAsync("auth", "set", new { userId = user, sessionId = "s-" + user });
        }

        using var a = await node.Client.GetAsync("/sse?userId=a&sessionId=s-a", HttpCompletionOption.ResponseHeadersRead);
        await using var b = node.Hub("b", "s-b", HttpTransportType.WebSockets);
        var inbox = TestNode.Inbox(b);
        await b.StartAsync();
        await node.WaitForConnectionsAsync("b", 1);

        using var negotiate = await node.Client.PostAsync("/push/negotiate?negotiateVersion=1&userId=c", null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, negotiate.StatusCode);
        Assert.Contains("options.maxConnections (2)", await negotiate.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await using (var raw = await RawSocketClient.ConnectAsync(new Uri(node.ClientUrl).Port))
        {
            // A WebSocket that skips negotiate is refused at its upgrade.
            await raw.SendAsync(System.Text.Encoding.ASCII.GetBytes(RawSocketClient.UpgradeHead("?userId=c&sessionId=s-c")));
            var (status, _, text) = await raw.ReadHttpResponseAsync();
            Assert.Equal(503, status);
            Assert.Contains("options.maxConnections (2)", text, StringComparison.Ordinal);
        }

        using var sse = await node.Client.GetAsync("/sse?userId=c&sessionId=s-c");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, sse.StatusCode);
        Assert.Equal(ErrorCodes.Unavailable, (await sse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());

        Assert.Equal(3, await node.MetricAsync("socketpush_connections_rejected_total{reason=\"max_connections\"}"));
        Assert.Equal(1, (await node.CallAsync("user", "publish", new { userId = "b", message = 1 })).GetInt32());
        Assert.Equal(1, (await TestNode.NextAsync(inbox)).GetProperty("data").GetInt32());
        Assert.Equal(1, (await node.CallAsync("user", "publish", new { userId = "a", message = 2 })).GetInt32());
    }

    [Fact]
    public async Task Subscribing_beyond_maxSubscriptionsPerUser_answers_409_naming_the_limit_at_the_owner_whichever_node_is_asked()
    {
        await using var cluster = await TestCluster.StartAsync(2, c => c.Options.MaxSubscriptionsPerUser = 2);
        var owner = cluster[0];
        var other = cluster[1];
        var user = cluster.UserOwnedBy(owner, "subscriber-");
        await other.CallAsync("channel", "subscribe", new { userId = user, channelId = "one" });
        await other.CallAsync("channel", "subscribe", new { userId = user, channelId = "two" });

        var (ok, body) = await other.TryCallAsync("channel", "subscribe", new { userId = user, channelId = "three" });

        Assert.False(ok);
        Assert.Equal(ErrorCodes.LimitExceeded, body.GetProperty("code").GetString());
        Assert.Contains("options.maxSubscriptionsPerUser (2)", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await owner.MetricAsync("socketpush_subscriptions_refused_total{reason=\"max_subscriptions_per_user\"}"));
        Assert.Equal(0, await other.MetricAsync("socketpush_subscriptions_refused_total{reason=\"max_subscriptions_per_user\"}"));
        Assert.Equal(["one", "two"], (await owner.CallAsync("channel", "getSubscriptions", new { userId = user })).EnumerateArray().Select(c => c.GetString()));
        // Subscribing again to a channel it has is no new subscription; after an unsubscribe there is room again.
        await owner.CallAsync("channel", "subscribe", new { userId = user, channelId = "two" });
        await owner.CallAsync("channel", "unsubscribe", new { userId = user, channelId = "one" });
        await owner.CallAsync("channel", "subscribe", new { userId = user, channelId = "three" });
    }
}
