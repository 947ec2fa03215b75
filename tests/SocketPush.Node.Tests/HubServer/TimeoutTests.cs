using System.Text;
using System.Text.Json;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>
/// The hub's timers on the node's fake clock. One timer ticks every second from the node's start and each tick
/// compares elapsed time with the option (>=), so a deadline is met at the first tick at or after it. Between
/// steps a ping round trip shows the server sent nothing meanwhile (it answers frames in order).
/// </summary>
public sealed class TimeoutTests
{
    private const string AuthenticationTimeouts = "socketpush_connections_rejected_total{reason=\"authentication_timeout\"}";

    /// <summary>
    /// Runs the next <paramref name="ticks"/> ticks, moving the clock to each whole second since the node started: the
    /// fake clock runs a timer callback at the time it was advanced to, which must be the tick's own time.
    /// </summary>
    private static void AdvanceSeconds(FakeClockNode node, int ticks)
    {
        for (var i = 0; i < ticks; i++)
        {
            var elapsed = node.Time.GetUtcNow() - node.Started;
            node.Time.Advance(TimeSpan.FromSeconds(Math.Floor(elapsed.TotalSeconds) + 1) - elapsed);
        }
    }

    /// <summary>A client authenticated through the query, registered on the node by the time this returns.</summary>
    private static async Task<RawSocketClient> AuthenticatedClientAsync(FakeClockNode node, string userId, bool messagePack = false)
    {
        await node.CallAsync("auth", "set", new { userId, sessionId = userId + "-s" });
        var client = await RawSocketClient.OpenHubAsync(
            node.ClientPort, $"?userId={userId}&sessionId={userId}-s", messagePack ? RawSocketClient.MessagePackHandshake : RawSocketClient.JsonHandshake);
        await node.ConnectionsAsync(userId, 1);
        return client;
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(500, 6)]
    [InlineData(999, 6)]
    public async Task A_connection_without_the_hub_handshake_is_closed_at_the_first_tick_after_the_authentication_timeout(int openedAtMs, int closingTick)
    {
        await using var node = await FakeClockNode.StartAsync(c => c.Options.AuthenticationTimeout = TimeSpan.FromSeconds(5));
        var before = await node.MetricAsync(AuthenticationTimeouts);
        node.Time.Advance(TimeSpan.FromMilliseconds(openedAtMs));
        await using var client = await RawSocketClient.ConnectAsync(node.ClientPort);
        Assert.StartsWith("HTTP/1.1 101 ", await client.UpgradeAsync(), StringComparison.Ordinal);
        Assert.Equal(1, node.Sessions.Count);

        // The ticks before: 5 s have not passed since the connection opened at any of them.
        AdvanceSeconds(node, closingTick - 1);
        await client.AssertQuietAsync($"tick {closingTick - 1}");
        Assert.Equal(1, node.Sessions.Count);
        Assert.Equal(before, await node.MetricAsync(AuthenticationTimeouts));

        AdvanceSeconds(node, 1);

        var close = await client.ReadFrameAsync();
        Assert.Equal((ClientFrames.Close, 1000), (close.Opcode, close.CloseStatus));
        Assert.True(await client.EndsAsync(), "the connection stayed open after the close frame");
        await Eventually.TrueAsync(() => node.Sessions.Count == 0, "the session is forgotten");
        Assert.Equal(before + 1, await node.MetricAsync(AuthenticationTimeouts));
    }

    [Fact]
    public async Task A_connection_that_did_the_handshake_but_never_authenticated_gets_a_close_message_at_the_timeout()
    {
        await using var node = await FakeClockNode.StartAsync(c => c.Options.AuthenticationTimeout = TimeSpan.FromSeconds(3));
        await using var client = await RawSocketClient.OpenHubAsync(node.ClientPort);

        AdvanceSeconds(node, 2);
        await client.AssertQuietAsync("tick 2");
        AdvanceSeconds(node, 1);

        using var close = JsonDocument.Parse((await client.ReadFrameAsync()).Text.TrimEnd('\u001e'));
        Assert.Equal(7, close.RootElement.GetProperty("type").GetInt32());
        Assert.Equal("The connection did not authenticate in time.", close.RootElement.GetProperty("error").GetString());
        Assert.False(close.RootElement.TryGetProperty("allowReconnect", out var reconnect) && reconnect.GetBoolean());
        Assert.Equal(1000, (await client.ReadFrameAsync()).CloseStatus);
    }

    [Fact]
    public async Task An_authenticated_connection_is_not_closed_by_the_authentication_timeout()
    {
        await using var node = await FakeClockNode.StartAsync(c =>
        {
            c.Options.AuthenticationTimeout = TimeSpan.FromSeconds(2);
            c.Options.KeepAliveInterval = TimeSpan.FromSeconds(29);
        });
        await using var client = await AuthenticatedClientAsync(node, "a");

        AdvanceSeconds(node, 10);

        await client.AssertQuietAsync("ten seconds after authenticating");
        Assert.Single(node.Registry.ConnectionsOf("a"));
    }

    [Theory]
    [InlineData(false, "{\"type\":6}\u001e")]
    [InlineData(true, "\u0002\u0091\u0006")]
    public async Task An_idle_authenticated_client_gets_a_hub_ping_at_the_keep_alive_interval(bool messagePack, string ping)
    {
        await using var node = await FakeClockNode.StartAsync(c => c.Options.KeepAliveInterval = TimeSpan.FromSeconds(5));
        await using var client = await AuthenticatedClientAsync(node, "idle", messagePack);
        // The handshake answer went out at 0 s.

        AdvanceSeconds(node, 4);
        await client.AssertQuietAsync("4 s after the handshake answer");

        // The pong just sent (at 4 s) counts as traffic too: 4 s after it there is still no ping.
        AdvanceSeconds(node, 4);
        await client.AssertQuietAsync("4 s after the last pong");

        AdvanceSeconds(node, 5);
        var frame = await client.ReadFrameAsync();
        Assert.Equal(messagePack ? ClientFrames.Binary : ClientFrames.Text, frame.Opcode);
        Assert.Equal(Encoding.Latin1.GetBytes(ping), frame.Payload);
        await client.AssertQuietAsync("right after the ping");
    }

    [Fact]
    public async Task A_message_sent_to_the_client_postpones_the_keep_alive_ping()
    {
        await using var node = await FakeClockNode.StartAsync(c => c.Options.KeepAliveInterval = TimeSpan.FromSeconds(5));
        await using var client = await AuthenticatedClientAsync(node, "busy");

        AdvanceSeconds(node, 3);
        Assert.Equal(1, (await node.CallAsync("user", "publish", new { userId = "busy", message = "news" })).GetInt32());
        Assert.Contains("\"news\"", (await client.ReadFrameAsync()).Text, StringComparison.Ordinal);

        // 5 s after the handshake, 2 s after the message: no ping yet.
        AdvanceSeconds(node, 2);
        var frame = await client.PingRoundTripAsync();
        Assert.Equal(ClientFrames.Pong, frame.Opcode);
    }

    [Fact]
    public async Task A_silent_client_is_closed_at_the_client_timeout_and_anything_it_sends_restarts_the_count()
    {
        await using var node = await FakeClockNode.StartAsync(c =>
        {
            c.Options.ClientTimeout = TimeSpan.FromSeconds(16);
            c.Options.KeepAliveInterval = TimeSpan.FromSeconds(29);
        });
        await using var client = await AuthenticatedClientAsync(node, "quiet");
        // The handshake arrived at 0 s. WebSocket pings are transport traffic, not hub messages: they do not count.

        AdvanceSeconds(node, 10);
        await client.AssertQuietAsync("10 s of silence");
        await client.SendTextAsync("{\"type\":1,\"invocationId\":\"1\",\"target\":\"Authenticate\",\"arguments\":[\"quiet\",\"quiet-s\"]}\u001e");
        Assert.Contains("\"result\":\"quiet\"", (await client.ReadFrameAsync()).Text, StringComparison.Ordinal);

        // 15 s after that message the client is still open; at 16 s it is closed.
        AdvanceSeconds(node, 15);
        await client.AssertQuietAsync("15 s after the last message");
        Assert.Single(node.Registry.ConnectionsOf("quiet"));

        AdvanceSeconds(node, 1);

        using var close = JsonDocument.Parse((await client.ReadFrameAsync()).Text.TrimEnd('\u001e'));
        Assert.Equal(7, close.RootElement.GetProperty("type").GetInt32());
        Assert.Equal("The server heard nothing from the client in time.", close.RootElement.GetProperty("error").GetString());
        Assert.True(close.RootElement.GetProperty("allowReconnect").GetBoolean());
        Assert.Equal(1000, (await client.ReadFrameAsync()).CloseStatus);
        Assert.True(await client.EndsAsync(), "the connection stayed open after the close frame");
        await node.ConnectionsAsync("quiet", 0);
    }
}
