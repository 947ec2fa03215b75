using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections.Client;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using SocketPush.Node.Edge.HubServer;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>
/// The official .NET SignalR client on WebSockets without negotiate, which the node serves with its own hub code
/// (<see cref="WebSocketHubSession"/>) rather than ASP.NET Core SignalR.
/// </summary>
public sealed class OfficialClientTests : IAsyncLifetime
{
    private FakeClockNode _node = null!;

    public async Task InitializeAsync() => _node = await FakeClockNode.StartAsync(c => c.Options.ClientTimeout = TimeSpan.FromSeconds(16));

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private static TaskCompletionSource<Exception?> ClosedSignal(HubConnection hub)
    {
        var closed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.Closed += e =>
        {
            closed.TrySetResult(e);
            return Task.CompletedTask;
        };
        return closed;
    }

    private async Task<WebSocketHubSession> SessionOfAsync(string userId)
    {
        var connection = Assert.Single(await _node.ConnectionsAsync(userId, 1));
        return Assert.IsType<WebSocketHubSession>(connection);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task User_and_channel_messages_arrive_over_the_nodes_own_websocket_hub(bool messagePack)
    {
        await _node.CallAsync("auth", "set", new { userId = "u@1", sessionId = "s" });
        await using var hub = _node.Hub("u@1", "s", messagePack);
        var inbox = HubTests.Inbox(hub, messagePack);
        await hub.StartAsync();

        var session = await SessionOfAsync("u@1");
        Assert.Equal(messagePack ? HubFormat.MessagePack : HubFormat.Json, session.Format);

        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = "u@1", message = new { text = "hé", n = 42, list = new[] { 1, 2 } } })).GetInt32());
        var message = await HubTests.NextAsync(inbox);
        Assert.Equal("user", message.GetProperty("kind").GetString());
        Assert.False(message.TryGetProperty("channelId", out var channel) && channel.ValueKind != JsonValueKind.Null);
        Assert.Equal("hé", message.GetProperty("data").GetProperty("text").GetString());
        Assert.Equal(42, message.GetProperty("data").GetProperty("n").GetInt32());
        Assert.Equal(2, message.GetProperty("data").GetProperty("list")[1].GetInt32());

        await _node.CallAsync("channel", "subscribe", new { userId = "u@1", channelId = "news/sport" });
        Assert.Equal(1, (await _node.CallAsync("channel", "publish", new { channelId = "news/sport", message = "goal" })).GetInt32());
        message = await HubTests.NextAsync(inbox);
        Assert.Equal("channel", message.GetProperty("kind").GetString());
        Assert.Equal("news/sport", message.GetProperty("channelId").GetString());
        Assert.Equal("goal", message.GetProperty("data").GetString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_may_authenticate_after_connecting(bool messagePack)
    {
        await _node.CallAsync("auth", "set", new { userId = "7", sessionId = "late" });
        await using var hub = _node.Hub(null, null, messagePack);
        var inbox = HubTests.Inbox(hub, messagePack);
        await hub.StartAsync();
        Assert.Equal(1, _node.Sessions.Count);
        Assert.Empty(_node.Registry.ConnectionsOf("7"));

        var wrong = await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<string>("Authenticate", "7", "nope"));
        Assert.Contains("Authorization failed", wrong.Message, StringComparison.Ordinal);
        Assert.Empty(_node.Registry.ConnectionsOf("7"));
        Assert.Equal("7", await hub.InvokeAsync<string>("Authenticate", "7", "late"));

        await SessionOfAsync("7");
        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = "7", message = "hi" })).GetInt32());
        Assert.Equal("hi", (await HubTests.NextAsync(inbox)).GetProperty("data").GetString());
        Assert.Equal(HubConnectionState.Connected, hub.State);
    }

    [Fact]
    public async Task Authenticate_confirms_the_query_user_and_refuses_another()
    {
        await _node.CallAsync("auth", "set", new { userId = "3", sessionId = "s3" });
        await _node.CallAsync("auth", "set", new { userId = "4", sessionId = "s4" });
        await using var hub = _node.Hub("3", "s3");
        await hub.StartAsync();
        await SessionOfAsync("3");

        Assert.Equal("3", await hub.InvokeAsync<string>("Authenticate", "3", "s3"));
        var other = await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<string>("Authenticate", "4", "s4"));
        Assert.Contains("already authenticated as another user", other.Message, StringComparison.Ordinal);
        await SessionOfAsync("3");
        Assert.Empty(_node.Registry.ConnectionsOf("4"));
        Assert.Equal(HubConnectionState.Connected, hub.State);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_wrong_session_is_refused_with_authorization_failed(bool messagePack)
    {
        const string Rejected = "socketpush_connections_rejected_total{reason=\"authorization_failed\"}";
        await _node.CallAsync("auth", "set", new { userId = "1", sessionId = "right" });
        var before = await _node.MetricAsync(Rejected);
        await using var hub = _node.Hub("1", "wrong", messagePack);

        await HubTests.AssertRefusedAsync(hub);

        Assert.Equal(before + 1, await _node.MetricAsync(Rejected));
        await Eventually.TrueAsync(() => _node.Sessions.Count == 0, "the refused session is gone");
        Assert.Equal(0, (await _node.CallAsync("user", "publish", new { userId = "1", message = 1 })).GetInt32());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task User_remove_closes_the_client(bool messagePack)
    {
        await _node.CallAsync("auth", "set", new { userId = "9", sessionId = "s" });
        await using var hub = _node.Hub("9", "s", messagePack);
        var closed = ClosedSignal(hub);
        await hub.StartAsync();
        await SessionOfAsync("9");

        await _node.CallAsync("user", "remove", new { userId = "9" });

        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HubConnectionState.Disconnected, hub.State);
        await Eventually.TrueAsync(() => _node.Sessions.Count == 0, "the removed session is gone");
        Assert.Equal(0, (await _node.CallAsync("user", "publish", new { userId = "9", message = 1 })).GetInt32());
    }

    [Fact]
    public async Task The_clients_own_keep_alive_pings_keep_it_open_while_a_silent_client_is_closed()
    {
        await _node.CallAsync("auth", "set", new { userId = "pinging", sessionId = "sp" });
        await _node.CallAsync("auth", "set", new { userId = "silent", sessionId = "ss" });
        var pings = new PingCounter();
        await using var pinging = _node.Hub("pinging", "sp", options: o => o.WebSocketFactory = pings.ConnectAsync);
        pinging.KeepAliveInterval = TimeSpan.FromMilliseconds(50);
        await using var silent = _node.Hub("silent", "ss");
        // Its pings would come after the test is over.
        silent.KeepAliveInterval = TimeSpan.FromMinutes(10);
        silent.ServerTimeout = TimeSpan.FromMinutes(20);
        var pingingClosed = ClosedSignal(pinging);
        var silentClosed = ClosedSignal(silent);
        await pinging.StartAsync();
        await silent.StartAsync();
        await SessionOfAsync("pinging");
        await SessionOfAsync("silent");

        // options.clientTimeout is 16 s on the node's clock; 25 of its seconds pass, five ticks at a time, each five
        // only after the pinging client has sent another ping (the .NET client checks its keep-alive once a second).
        for (var seconds = 5; seconds <= 25; seconds += 5)
        {
            var sent = pings.Count;
            await Eventually.TrueAsync(() => pings.Count > sent, "the client sent another ping");
            _node.Time.Advance(TimeSpan.FromSeconds(5));
            Assert.True(seconds > 15 || !silentClosed.Task.IsCompleted, $"the silent client was closed after {seconds} s");
        }

        var error = await silentClosed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("heard nothing from the client", error?.Message, StringComparison.Ordinal);
        Assert.False(pingingClosed.Task.IsCompleted, "the pinging client was closed");
        Assert.Equal(HubConnectionState.Connected, pinging.State);
        await SessionOfAsync("pinging");
        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = "pinging", message = 1 })).GetInt32());
    }

    /// <summary>Counts the hub pings a client writes to its WebSocket.</summary>
    private sealed class PingCounter
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public async ValueTask<WebSocket> ConnectAsync(WebSocketConnectionContext context, CancellationToken cancellationToken)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(context.Uri, cancellationToken);
            return new CountingWebSocket(socket, this);
        }

        private sealed class CountingWebSocket(ClientWebSocket inner, PingCounter counter) : WebSocket
        {
            private static readonly byte[] Ping = Encoding.UTF8.GetBytes("{\"type\":6}\u001e");

            public override WebSocketCloseStatus? CloseStatus => inner.CloseStatus;

            public override string? CloseStatusDescription => inner.CloseStatusDescription;

            public override WebSocketState State => inner.State;

            public override string? SubProtocol => inner.SubProtocol;

            public override void Abort() => inner.Abort();

            public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) =>
                inner.CloseAsync(closeStatus, statusDescription, cancellationToken);

            public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) =>
                inner.CloseOutputAsync(closeStatus, statusDescription, cancellationToken);

            public override void Dispose() => inner.Dispose();

            public override Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken) =>
                inner.ReceiveAsync(buffer, cancellationToken);

            public override ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
                inner.ReceiveAsync(buffer, cancellationToken);

            public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken) =>
                SendAsync(buffer.AsMemory(), messageType, endOfMessage, cancellationToken).AsTask();

            public override async ValueTask SendAsync(ReadOnlyMemory<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
            {
                await inner.SendAsync(buffer, messageType, endOfMessage, cancellationToken);
                if (buffer.Span.SequenceEqual(Ping))
                {
                    Interlocked.Increment(ref counter._count);
                }
            }
        }
    }
}
