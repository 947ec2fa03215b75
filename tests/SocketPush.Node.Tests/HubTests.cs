using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Time.Testing;

namespace SocketPush.Node.Tests;

/// <summary>The socket-push demo over the official .NET SignalR client against a real node.</summary>
public sealed class HubTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    /// <summary>Collects the <c>message</c> events of a hub connection as JSON.</summary>
    internal static Channel<JsonElement> Inbox(HubConnection hub, bool messagePack = false)
    {
        var inbox = Channel.CreateUnbounded<JsonElement>();
        if (messagePack)
        {
            // MessagePack maps arrive as dictionaries; as JSON they compare the same way as the JSON protocol's.
            hub.On<Dictionary<string, object?>>("message", m => inbox.Writer.TryWrite(JsonSerializer.SerializeToElement(m)));
        }
        else
        {
            hub.On<JsonElement>("message", m => inbox.Writer.TryWrite(m));
        }

        return inbox;
    }

    internal static async Task<JsonElement> NextAsync(Channel<JsonElement> inbox)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await inbox.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>The server closes a refused connection right after the handshake, so start may or may not see it first.</summary>
    /// <summary>Asserts that the hub refuses the connection's start (or closes it right after) with a message containing <paramref name="reason"/>.</summary>
    internal static async Task AssertRefusedAsync(HubConnection hub, string reason = "Authorization failed")
    {
        var closed = new TaskCompletionSource<Exception?>();
        hub.Closed += e => { closed.TrySetResult(e); return Task.CompletedTask; };
        string? error;
        try
        {
            await hub.StartAsync();
            error = (await closed.Task.WaitAsync(TimeSpan.FromSeconds(10)))?.Message;
        }
        catch (Exception e) when (e is not TimeoutException)
        {
            error = e.Message;
        }

        Assert.True(error?.Contains(reason, StringComparison.Ordinal) == true, error);
    }

    [Theory]
    [InlineData(HttpTransportType.WebSockets, false)]
    [InlineData(HttpTransportType.WebSockets, true)]
    [InlineData(HttpTransportType.LongPolling, false)]
    [InlineData(HttpTransportType.LongPolling, true)]
    [InlineData(HttpTransportType.ServerSentEvents, false)]
    public async Task The_demo_works_on_every_transport_and_protocol(HttpTransportType transport, bool messagePack)
    {
        await _node.CallAsync("auth", "set", new { userId = "1", sessionId = "test" });
        await using var tab1 = _node.Hub("1", "test", transport, messagePack);
        await using var tab2 = _node.Hub("1", "test", transport, messagePack);
        var inbox1 = Inbox(tab1, messagePack);
        var inbox2 = Inbox(tab2, messagePack);
        await tab1.StartAsync();
        await tab2.StartAsync();
        await _node.WaitForConnectionsAsync("1", 2);

        var reached = await _node.CallAsync("user", "publish", new { userId = "1", message = new { text = "hello", n = 42, list = new[] { 1, 2 } } });
        Assert.Equal(2, reached.GetInt32());
        foreach (var inbox in new[] { inbox1, inbox2 })
        {
            var message = await NextAsync(inbox);
            Assert.Equal("user", message.GetProperty("kind").GetString());
            Assert.Equal("hello", message.GetProperty("data").GetProperty("text").GetString());
            Assert.Equal(42, message.GetProperty("data").GetProperty("n").GetInt32());
            Assert.Equal(2, message.GetProperty("data").GetProperty("list")[1].GetInt32());
        }

        await _node.CallAsync("channel", "subscribe", new { userId = "1", channelId = "news" });
        reached = await _node.CallAsync("channel", "publish", new { channelId = "news", message = "extra!" });
        Assert.Equal(2, reached.GetInt32());
        foreach (var inbox in new[] { inbox1, inbox2 })
        {
            var message = await NextAsync(inbox);
            Assert.Equal("channel", message.GetProperty("kind").GetString());
            Assert.Equal("news", message.GetProperty("channelId").GetString());
            Assert.Equal("extra!", message.GetProperty("data").GetString());
        }

        Assert.Equal(["1"], (await _node.CallAsync("user", "listAll", new { })).EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData(HttpTransportType.WebSockets)]
    [InlineData(HttpTransportType.LongPolling)]
    [InlineData(HttpTransportType.ServerSentEvents)]
    public async Task A_wrong_session_is_refused_with_a_clear_error(HttpTransportType transport)
    {
        await _node.CallAsync("auth", "set", new { userId = "1", sessionId = "test" });
        await using var hub = _node.Hub("1", "wrong", transport);
        await AssertRefusedAsync(hub);
        Assert.Equal(0, (await _node.CallAsync("user", "publish", new { userId = "1", message = 1 })).GetInt32());
    }

    [Fact]
    public async Task Another_users_session_does_not_authorize()
    {
        await _node.CallAsync("auth", "set", new { userId = "1", sessionId = "s1" });
        await _node.CallAsync("auth", "set", new { userId = "2", sessionId = "s2" });
        await using var hub = _node.Hub("1", "s2", HttpTransportType.WebSockets);
        await AssertRefusedAsync(hub);
        Assert.Equal(0, (await _node.CallAsync("user", "publish", new { userId = "1", message = 1 })).GetInt32());
    }

    [Theory]
    [InlineData(HttpTransportType.WebSockets)]
    [InlineData(HttpTransportType.LongPolling)]
    [InlineData(HttpTransportType.ServerSentEvents)]
    public async Task A_client_that_never_authenticates_is_closed_after_the_timeout(HttpTransportType transport)
    {
        // Fake time: a short real timeout would also close slow but honest clients of a loaded test machine.
        var time = new FakeTimeProvider();
        await using var node = await TestNode.StartAsync(time: time);
        await using var hub = new HubConnectionBuilder().WithUrl($"{node.ClientUrl}/push", transport).Build();
        var closed = new TaskCompletionSource<Exception?>();
        hub.Closed += e => { closed.TrySetResult(e); return Task.CompletedTask; };
        await hub.StartAsync();
        var timeout = node.Service<SocketPush.Node.Configuration.LiveConfig>().Options.AuthenticationTimeout;

        time.Advance(timeout - TimeSpan.FromSeconds(1));
        Assert.False(closed.Task.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HubConnectionState.Disconnected, hub.State);
    }

    [Theory]
    [InlineData(HttpTransportType.WebSockets)]
    [InlineData(HttpTransportType.LongPolling)]
    [InlineData(HttpTransportType.ServerSentEvents)]
    public async Task A_client_may_authenticate_after_connecting_as_in_socket_push(HttpTransportType transport)
    {
        await _node.CallAsync("auth", "set", new { userId = "7", sessionId = "late" });
        await using var hub = new HubConnectionBuilder().WithUrl($"{_node.ClientUrl}/push", transport).Build();
        var inbox = Inbox(hub);
        await hub.StartAsync();

        var wrong = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => hub.InvokeAsync<string>("Authenticate", "7", "nope"));
        Assert.Contains("Authorization failed", wrong.Message, StringComparison.Ordinal);
        Assert.Equal("7", await hub.InvokeAsync<string>("Authenticate", "7", "late"));

        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = "7", message = "hi" })).GetInt32());
        Assert.Equal("hi", (await NextAsync(inbox)).GetProperty("data").GetString());
        Assert.Equal(HubConnectionState.Connected, hub.State);
    }

    [Fact]
    public async Task Authenticate_confirms_a_connection_authenticated_through_the_query()
    {
        await _node.CallAsync("auth", "set", new { userId = "3", sessionId = "s3" });
        await _node.CallAsync("auth", "set", new { userId = "4", sessionId = "s4" });
        await using var hub = _node.Hub("3", "s3", HttpTransportType.WebSockets);
        await hub.StartAsync();

        Assert.Equal("3", await hub.InvokeAsync<string>("Authenticate", "3", "s3"));
        Assert.Single(_node.Service<SocketPush.Node.Edge.ConnectionRegistry>().ConnectionsOf("3"));
        var other = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => hub.InvokeAsync<string>("Authenticate", "4", "s4"));
        Assert.Contains("another user", other.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task User_remove_disconnects_the_users_clients()
    {
        await _node.CallAsync("auth", "set", new { userId = "9", sessionId = "s" });
        await using var hub = _node.Hub("9", "s", HttpTransportType.WebSockets);
        var closed = new TaskCompletionSource<Exception?>();
        hub.Closed += e => { closed.TrySetResult(e); return Task.CompletedTask; };
        await hub.StartAsync();
        await _node.WaitForConnectionsAsync("9", 1);

        await _node.CallAsync("user", "remove", new { userId = "9" });

        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, (await _node.CallAsync("user", "publish", new { userId = "9", message = 1 })).GetInt32());
    }

    [Fact]
    public async Task Disconnecting_unsubscribes_the_user_after_the_configured_timeout()
    {
        await using var node = await TestNode.StartAsync(c => c.Options.RemoveUserAfterDisconnectTimeout = TimeSpan.FromMilliseconds(200));
        await node.CallAsync("auth", "set", new { userId = "5", sessionId = "s" });
        var hub = node.Hub("5", "s", HttpTransportType.WebSockets);
        await hub.StartAsync();
        await node.WaitForConnectionsAsync("5", 1);
        await node.CallAsync("channel", "subscribe", new { userId = "5", channelId = "news" });

        await hub.DisposeAsync();

        await Eventually.TrueAsync(
            async () => (await node.CallAsync("channel", "getSubscriptions", new { userId = "5" })).GetArrayLength() == 0,
            "user 5 is unsubscribed after disconnecting");
        Assert.Equal(0, (await node.CallAsync("channel", "getSubscribers", new { channelId = "news" })).GetArrayLength());
    }
}
