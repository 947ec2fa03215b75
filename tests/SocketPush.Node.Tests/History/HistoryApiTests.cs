using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Tests.History;

/// <summary>
/// History through the management API, in both forms: <c>channel.history</c> and <c>user.history</c>, and
/// <c>publishId</c> on <c>user.publish</c> and <c>channel.publish</c>, which makes a retried publish harmless.
/// </summary>
public sealed class HistoryApiTests : IAsyncLifetime
{
    private TestNode _node = null!;

    /// <summary>Channels keep 3 messages (so reads meet evictions); <c>nohist/*</c> and users <c>nohist-*</c> keep none.</summary>
    public async Task InitializeAsync() => _node = await TestNode.StartAsync(c =>
    {
        c.History.Channels = [new HistoryRule { Match = "*", Size = 3 }, new HistoryRule { Match = "nohist/*", Size = 0 }];
        c.History.Users = [new HistoryRule { Match = "*", Size = 100 }, new HistoryRule { Match = "nohist-*", Size = 0 }];
    });

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, object body)
    {
        using var response = await _node.Admin.PostAsJsonAsync(path, body);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string path)
    {
        using var response = await _node.Admin.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static string Path(params string[] segments) => "/" + string.Join("/", segments.Select(Uri.EscapeDataString));

    private const string Deduplicated = "socketpush_publishes_deduplicated_total";

    [Theory]
    [InlineData("channel")]
    [InlineData("user")]
    public async Task A_publish_retried_with_its_publishId_in_either_form_answers_0_and_is_delivered_once(string service)
    {
        var user = $"retry-{service}";
        var channel = $"retry/{service}";
        await _node.CallAsync("auth", "set", new { userId = user, sessionId = "s" });
        await _node.CallAsync("channel", "subscribe", new { userId = user, channelId = channel });
        await using var hub = _node.Hub(user, "s", HttpTransportType.WebSockets);
        var inbox = TestNode.Inbox(hub);
        await hub.StartAsync();
        await _node.WaitForConnectionsAsync(user, 1);
        var target = service == "channel" ? channel : user;
        object Publish(int n, string publishId) => service == "channel"
            ? new { channelId = channel, message = new { n }, publishId }
            : new { userId = user, message = new { n }, publishId };
        var deduplicatedBefore = await _node.MetricAsync(Deduplicated);

        var (status, body) = await PostAsync($"/api/{service}/publish", Publish(1, "order-1"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, body.GetProperty("result").GetInt32());
        // The retries: the JSON form again (even with other data: the id decides), then the path form.
        (status, body) = await PostAsync($"/api/{service}/publish", Publish(2, "order-1"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, body.GetProperty("result").GetInt32());
        (status, body) = await GetAsync(Path(service, "publish", target, """{"n":3}""", "order-1"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, body.GetProperty("result").GetInt32());
        (status, body) = await GetAsync(Path(service, "publish", target, """{"n":4}""", "order-2"));
        Assert.Equal(1, body.GetProperty("result").GetInt32());

        var first = await TestNode.NextAsync(inbox);
        var second = await TestNode.NextAsync(inbox);
        Assert.Equal(1, first.GetProperty("data").GetProperty("n").GetInt32());
        Assert.Equal(4, second.GetProperty("data").GetProperty("n").GetInt32());
        Assert.Equal(Positions.Of(first) with { Offset = Positions.Of(first).Offset + 1 }, Positions.Of(second));
        Assert.Equal(deduplicatedBefore + 2, await _node.MetricAsync(Deduplicated));

        var history = await _node.CallAsync(service, "history", service == "channel" ? new { channelId = channel } : (object)new { userId = user });
        Assert.Equal(["order-1", "order-2"], history.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        Assert.Equal([1, 4], history.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("data").GetProperty("n").GetInt32()));
    }

    [Fact]
    public async Task Channel_history_returns_the_latest_messages_or_those_after_a_position_up_to_a_limit()
    {
        const string channel = "hist/a";
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var statusBefore = (await _node.CallAsync("manager", "status", new { })).GetProperty("history");
        for (var n = 1; n <= 5; n++)
        {
            await _node.CallAsync("channel", "publish", new { channelId = channel, message = new { n }, publishId = $"p{n}" });
        }

        // Size 3: the two oldest are gone, and manager.status counts them with what the history holds now.
        var held = (await _node.CallAsync("manager", "status", new { })).GetProperty("history");
        Assert.Equal(2, held.GetProperty("evicted").GetProperty("size").GetInt64() - statusBefore.GetProperty("evicted").GetProperty("size").GetInt64());
        Assert.Equal(3, held.GetProperty("messages").GetInt64() - statusBefore.GetProperty("messages").GetInt64());
        Assert.True(held.GetProperty("bytes").GetInt64() > statusBefore.GetProperty("bytes").GetInt64());
        Assert.Equal(1, held.GetProperty("streams").GetInt32() - statusBefore.GetProperty("streams").GetInt32());
        Assert.Equal(256L * 1024 * 1024, held.GetProperty("maxBytes").GetInt64());
        var latest = await _node.CallAsync("channel", "history", new { channelId = channel });
        var epoch = latest.GetProperty("epoch").GetString()!;
        Assert.Equal(5, latest.GetProperty("offset").GetInt64());
        Assert.True(latest.GetProperty("complete").GetBoolean());
        Assert.Equal([3L, 4, 5], Offsets(latest));
        Assert.Equal([3, 4, 5], latest.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("data").GetProperty("n").GetInt32()));
        Assert.Equal(["p3", "p4", "p5"], latest.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        Assert.All(latest.GetProperty("messages").EnumerateArray(), m => Assert.InRange(m.GetProperty("publishedAt").GetInt64(), before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));

        var after3 = await _node.CallAsync("channel", "history", new { channelId = channel, since = $"{epoch}.3" });
        Assert.True(after3.GetProperty("complete").GetBoolean());
        Assert.Equal([4L, 5], Offsets(after3));
        Assert.Equal([4L], Offsets(await _node.CallAsync("channel", "history", new { channelId = channel, since = $"{epoch}.3", limit = 1 })));
        Assert.Equal([4L, 5], Offsets(await _node.CallAsync("channel", "history", new { channelId = channel, limit = 2 })));
        Assert.Empty(Offsets(await _node.CallAsync("channel", "history", new { channelId = channel, since = $"{epoch}.5" })));

        // The path form: /channel/history/{channelId}/{since}/{limit}.
        var (status, body) = await GetAsync(Path("channel", "history", channel, $"{epoch}.2", "2"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([3L, 4], Offsets(body.GetProperty("result")));

        // Evicted, or of another epoch: incomplete, and nothing is returned.
        foreach (var since in new[] { $"{epoch}.1", "otherepoch.3" })
        {
            var gone = await _node.CallAsync("channel", "history", new { channelId = channel, since });
            Assert.False(gone.GetProperty("complete").GetBoolean());
            Assert.Empty(Offsets(gone));
            Assert.Equal(5, gone.GetProperty("offset").GetInt64());
        }
    }

    [Fact]
    public async Task User_history_reads_the_users_stream_in_both_forms()
    {
        const string user = "hist-user";
        for (var n = 1; n <= 3; n++)
        {
            Assert.Equal(0, (await _node.CallAsync("user", "publish", new { userId = user, message = new { n } })).GetInt32());
        }

        var all = await _node.CallAsync("user", "history", new { userId = user });
        Assert.Equal([1L, 2, 3], Offsets(all));
        Assert.All(all.GetProperty("messages").EnumerateArray(), m => Assert.False(string.IsNullOrEmpty(m.GetProperty("id").GetString())));
        var epoch = all.GetProperty("epoch").GetString()!;
        var (status, body) = await GetAsync(Path("user", "history", user, $"{epoch}.1"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([2L, 3], Offsets(body.GetProperty("result")));
        Assert.Equal([2, 3], body.GetProperty("result").GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("data").GetProperty("n").GetInt32()));
    }

    [Theory]
    [InlineData("channel", "hist/b", "nope", null, "since")]
    [InlineData("channel", "hist/b", "e.x", null, "since")]
    [InlineData("channel", "hist/b", null, 1001, "limit")]
    [InlineData("channel", "hist/b", null, -1, "limit")]
    [InlineData("channel", "nohist/b", null, null, "history.channels")]
    [InlineData("user", "hist-b", "E.1", null, "since")]
    [InlineData("user", "nohist-b", null, null, "history.users")]
    public async Task Bad_reads_get_400_invalid_argument_naming_what_is_wrong(string service, string id, string? since, int? limit, string named)
    {
        var parameters = service == "channel"
            ? (object)new { channelId = id, since, limit }
            : new { userId = id, since, limit };
        var (status, body) = await PostAsync($"/api/{service}/history", parameters);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_argument", body.GetProperty("code").GetString());
        Assert.Contains(named, body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    private static List<long> Offsets(JsonElement page) => [.. page.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("offset").GetInt64())];
}
