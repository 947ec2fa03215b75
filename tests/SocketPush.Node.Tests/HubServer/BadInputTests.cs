using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using SocketPush.Node.Edge.HubServer;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>
/// Broken and hostile clients of the node's own WebSocket hub, written byte by byte over TCP or with
/// <see cref="ClientWebSocket"/>: each gets a clear answer or close code, is counted in /metrics, and a client
/// connected alongside keeps receiving.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class BadInputTests : IAsyncLifetime
{
    private const string Malformed = "socketpush_client_messages_malformed_total";
    private const string GoodOrigin = "https://good.example";

    private readonly CancellationTokenSource _deadline = new(TimeSpan.FromSeconds(30));
    private FakeClockNode _node = null!;
    private int _users;

    public async Task InitializeAsync() => _node = await FakeClockNode.StartAsync(c => c.Options.AllowedOrigins = [GoodOrigin]);

    public async Task DisposeAsync()
    {
        _deadline.Dispose();
        await _node.DisposeAsync();
    }

    private static string Rejected(string reason) => $"socketpush_connections_rejected_total{{reason=\"{reason}\"}}";

    /// <summary>An authenticated raw client, to show the node still serves others after a bad one.</summary>
    private async Task<(RawSocketClient Client, string UserId)> GoodClientAsync()
    {
        var userId = $"good{Interlocked.Increment(ref _users)}";
        await _node.CallAsync("auth", "set", new { userId, sessionId = userId + "-s" });
        var client = await RawSocketClient.OpenHubAsync(_node.ClientPort, $"?userId={userId}&sessionId={userId}-s");
        Assert.IsType<WebSocketHubSession>(Assert.Single(await _node.ConnectionsAsync(userId, 1)));
        return (client, userId);
    }

    private async Task AssertStillServedAsync((RawSocketClient Client, string UserId) good)
    {
        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = good.UserId, message = "still here" })).GetInt32());
        var frame = await good.Client.ReadFrameAsync();
        Assert.Equal(ClientFrames.Text, frame.Opcode);
        Assert.Contains("\"still here\"", frame.Text, StringComparison.Ordinal);
    }

    /// <summary>Reads the close frame, checks its status, and that the server then ends the TCP connection.</summary>
    private static async Task AssertClosedAsync(RawSocketClient client, int status)
    {
        var frame = await client.ReadFrameAsync();
        Assert.True(frame.Opcode == ClientFrames.Close, $"expected a close frame, got opcode {frame.Opcode} \"{frame.Text}\"");
        Assert.Equal(status, frame.CloseStatus);
        Assert.True(await client.EndsAsync(), "the server left the connection open after its close frame");
    }

    private async Task AssertCountedOnceAsync(string sample, double before)
    {
        await _node.MetricReachesAsync(sample, before + 1);
        Assert.Equal(before + 1, await _node.MetricAsync(sample));
    }

    [Fact]
    public async Task An_unmasked_frame_is_closed_with_1002_and_counted()
    {
        var good = await GoodClientAsync();
        var before = await _node.MetricAsync(Malformed);
        await using var bad = await RawSocketClient.OpenHubAsync(_node.ClientPort);

        await bad.SendAsync(ClientFrames.Build(ClientFrames.Text, "{\"type\":6}\u001e"u8, masked: false));

        await AssertClosedAsync(bad, 1002);
        await AssertCountedOnceAsync(Malformed, before);
        await Eventually.TrueAsync(() => _node.Sessions.Count == 1, "only the good session is left");
        await AssertStillServedAsync(good);
    }

    [Fact]
    public async Task A_frame_over_the_size_limit_is_closed_with_1009_from_its_header_and_counted()
    {
        var good = await GoodClientAsync();
        var before = await _node.MetricAsync(Malformed);
        await using var bad = await RawSocketClient.OpenHubAsync(_node.ClientPort);

        // Only the header and a little of the declared 1 MB: the server must not wait for the rest.
        var frame = ClientFrames.Build(ClientFrames.Text, new byte[100], declaredLength: 1 << 20);
        await bad.SendAsync(frame[..^50]);

        await AssertClosedAsync(bad, 1009);
        await AssertCountedOnceAsync(Malformed, before);
        await AssertStillServedAsync(good);
    }

    [Fact]
    public async Task A_message_over_the_size_limit_from_ClientWebSocket_gets_close_status_message_too_big()
    {
        var before = await _node.MetricAsync(Malformed);
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_node.ClientPort}/push"), Timeout());
        await socket.SendAsync(Encoding.UTF8.GetBytes(RawSocketClient.JsonHandshake), WebSocketMessageType.Text, true, Timeout());
        Assert.Equal("{}\u001e", await ReceiveTextAsync(socket));

        await socket.SendAsync(new byte[HubSession.MaxClientMessageBytes + 1], WebSocketMessageType.Text, true, Timeout());

        var result = await socket.ReceiveAsync(new byte[256], Timeout());
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
        await AssertCountedOnceAsync(Malformed, before);
    }

    [Fact]
    public async Task A_fragmented_message_over_the_size_limit_is_closed_with_1009_and_counted()
    {
        var good = await GoodClientAsync();
        var before = await _node.MetricAsync(Malformed);
        await using var bad = await RawSocketClient.OpenHubAsync(_node.ClientPort);
        var piece = new byte[HubSession.MaxClientMessageBytes / 2];

        // Each frame is within the limit; the message they make is not.
        await bad.SendFrameAsync(ClientFrames.Text, piece, final: false);
        await bad.SendFrameAsync(ClientFrames.Continuation, piece, final: false);
        await bad.SendFrameAsync(ClientFrames.Continuation, [1], final: true);

        await AssertClosedAsync(bad, 1009);
        await AssertCountedOnceAsync(Malformed, before);
        await AssertStillServedAsync(good);
    }

    [Fact]
    public async Task A_continuation_frame_with_no_message_started_is_closed_with_1002_and_counted()
    {
        // RFC 6455 §5.4: fragments follow a first data frame; a continuation out of nowhere is a protocol error.
        var before = await _node.MetricAsync(Malformed);
        await using var bad = await RawSocketClient.OpenHubAsync(_node.ClientPort);

        await bad.SendFrameAsync(ClientFrames.Continuation, "{\"type\":6}\u001e"u8.ToArray());

        await AssertClosedAsync(bad, 1002);
        await AssertCountedOnceAsync(Malformed, before);
    }

    [Fact]
    public async Task A_new_data_frame_inside_a_fragmented_message_is_closed_with_1002_and_counted()
    {
        // RFC 6455 §5.4: the fragments of one message are not interleaved with another message's frames.
        var before = await _node.MetricAsync(Malformed);
        await using var bad = await RawSocketClient.OpenHubAsync(_node.ClientPort);

        await bad.SendFrameAsync(ClientFrames.Text, "{\"type\":"u8.ToArray(), final: false);
        await bad.SendFrameAsync(ClientFrames.Text, "6}\u001e"u8.ToArray(), final: true);

        await AssertClosedAsync(bad, 1002);
        await AssertCountedOnceAsync(Malformed, before);
    }

    [Fact]
    public async Task A_fragmented_message_with_a_ping_between_its_fragments_is_read_whole()
    {
        await using var client = await RawSocketClient.ConnectAsync(_node.ClientPort);
        Assert.StartsWith("HTTP/1.1 101 ", await client.UpgradeAsync(), StringComparison.Ordinal);
        var handshake = Encoding.UTF8.GetBytes(RawSocketClient.JsonHandshake);

        await client.SendFrameAsync(ClientFrames.Text, handshake[..10], final: false);
        await client.SendFrameAsync(ClientFrames.Ping, "between"u8.ToArray());
        await client.SendFrameAsync(ClientFrames.Continuation, handshake[10..20], final: false);
        await client.SendFrameAsync(ClientFrames.Continuation, handshake[20..], final: true);

        var pong = await client.ReadFrameAsync();
        Assert.Equal((ClientFrames.Pong, "between"), (pong.Opcode, pong.Text));
        var answer = await client.ReadFrameAsync();
        Assert.Equal((ClientFrames.Text, "{}\u001e"), (answer.Opcode, answer.Text));
    }

    [Fact]
    public async Task Garbage_instead_of_frames_after_the_upgrade_is_closed_with_1002_and_counted()
    {
        var good = await GoodClientAsync();
        var before = await _node.MetricAsync(Malformed);
        await using var bad = await RawSocketClient.ConnectAsync(_node.ClientPort);
        Assert.StartsWith("HTTP/1.1 101 ", await bad.UpgradeAsync(), StringComparison.Ordinal);

        await bad.SendAsync(Encoding.ASCII.GetBytes("hello, server\r\n"));

        await AssertClosedAsync(bad, 1002);
        await AssertCountedOnceAsync(Malformed, before);
        await AssertStillServedAsync(good);
    }

    [Theory]
    [InlineData("{not json}\u001e")]
    [InlineData("{\"type\":1,\"target\":\"Authenticate\",\"arguments\":{}}\u001e")]
    [InlineData("{\"type\":\"one\"}\u001e")]
    public async Task An_unreadable_hub_message_gets_a_close_message_with_the_reason_and_is_counted(string garbage)
    {
        var good = await GoodClientAsync();
        var before = await _node.MetricAsync(Malformed);
        await using var bad = await RawSocketClient.OpenHubAsync(_node.ClientPort);

        await bad.SendTextAsync(garbage);

        var close = await bad.ReadFrameAsync();
        using var message = JsonDocument.Parse(close.Text.TrimEnd('\u001e'));
        Assert.Equal(7, message.RootElement.GetProperty("type").GetInt32());
        Assert.StartsWith("The server could not read a message", message.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(message.RootElement.TryGetProperty("allowReconnect", out var reconnect) && reconnect.GetBoolean());
        await AssertClosedAsync(bad, 1000);
        await AssertCountedOnceAsync(Malformed, before);
        await AssertStillServedAsync(good);
    }

    [Theory]
    [InlineData("{\"protocol\":}\u001e")]
    [InlineData("{\"version\":1}\u001e")]
    [InlineData("not a handshake\u001e")]
    public async Task A_malformed_hub_handshake_gets_a_handshake_error_and_is_counted(string handshake)
    {
        // ASP.NET Core SignalR answers an unreadable handshake with a handshake response carrying an error, so the
        // client's start fails with a reason instead of a bare close.
        var good = await GoodClientAsync();
        var before = await _node.MetricAsync(Malformed);
        await using var bad = await RawSocketClient.ConnectAsync(_node.ClientPort);
        Assert.StartsWith("HTTP/1.1 101 ", await bad.UpgradeAsync(), StringComparison.Ordinal);

        var answer = await bad.HubHandshakeAsync(handshake);

        await AssertCountedOnceAsync(Malformed, before);
        Assert.True(answer.Opcode == ClientFrames.Text, $"expected a handshake response, got opcode {answer.Opcode} (close status {answer.CloseStatus})");
        using var response = JsonDocument.Parse(answer.Text.TrimEnd('\u001e'));
        Assert.False(string.IsNullOrEmpty(response.RootElement.GetProperty("error").GetString()));
        await AssertClosedAsync(bad, 1000);
        await AssertStillServedAsync(good);
    }

    [Theory]
    [InlineData("{\"protocol\":\"xml\",\"version\":1}\u001e", "The protocol 'xml' is not supported; use 'json' or 'messagepack'.")]
    [InlineData("{\"protocol\":\"json\",\"version\":99}\u001e", "The server does not support version 99 of the 'json' protocol.")]
    public async Task An_unknown_hub_protocol_gets_a_handshake_error_and_is_counted(string handshake, string error)
    {
        var good = await GoodClientAsync();
        var before = await _node.MetricAsync(Rejected("protocol"));
        await using var bad = await RawSocketClient.ConnectAsync(_node.ClientPort);
        Assert.StartsWith("HTTP/1.1 101 ", await bad.UpgradeAsync(), StringComparison.Ordinal);

        var answer = await bad.HubHandshakeAsync(handshake);

        Assert.Equal(ClientFrames.Text, answer.Opcode);
        Assert.EndsWith("\u001e", answer.Text, StringComparison.Ordinal);
        using var response = JsonDocument.Parse(answer.Text.TrimEnd('\u001e'));
        Assert.Equal(error, response.RootElement.GetProperty("error").GetString());
        await AssertClosedAsync(bad, 1000);
        await AssertCountedOnceAsync(Rejected("protocol"), before);
        await AssertStillServedAsync(good);
    }

    [Fact]
    public async Task An_unknown_hub_method_gets_a_completion_with_an_error_and_the_connection_goes_on()
    {
        await _node.CallAsync("auth", "set", new { userId = "cws", sessionId = "cws-s" });
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_node.ClientPort}/push"), Timeout());
        await socket.SendAsync(Encoding.UTF8.GetBytes(RawSocketClient.JsonHandshake), WebSocketMessageType.Text, true, Timeout());
        Assert.Equal("{}\u001e", await ReceiveTextAsync(socket));

        var unknown = await InvokeAsync(socket, "{\"type\":1,\"invocationId\":\"1\",\"target\":\"Nope\",\"arguments\":[]}\u001e");
        Assert.Equal("1", unknown.GetProperty("invocationId").GetString());
        Assert.Equal("Unknown hub method 'Nope'", unknown.GetProperty("error").GetString());

        var wrongArguments = await InvokeAsync(socket, "{\"type\":1,\"invocationId\":\"2\",\"target\":\"Authenticate\",\"arguments\":[\"cws\"]}\u001e");
        Assert.Equal("2", wrongArguments.GetProperty("invocationId").GetString());
        Assert.StartsWith("Failed to invoke 'Authenticate'", wrongArguments.GetProperty("error").GetString(), StringComparison.Ordinal);

        var streaming = await InvokeAsync(socket, "{\"type\":4,\"invocationId\":\"3\",\"target\":\"Authenticate\",\"arguments\":[\"cws\",\"cws-s\"]}\u001e");
        Assert.Equal("Streaming is not supported.", streaming.GetProperty("error").GetString());

        var authenticated = await InvokeAsync(socket, "{\"type\":1,\"invocationId\":\"4\",\"target\":\"Authenticate\",\"arguments\":[\"cws\",\"cws-s\"]}\u001e");
        Assert.Equal("cws", authenticated.GetProperty("result").GetString());
        Assert.IsType<WebSocketHubSession>(Assert.Single(await _node.ConnectionsAsync("cws", 1)));
        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = "cws", message = 5 })).GetInt32());
        using var message = JsonDocument.Parse((await ReceiveTextAsync(socket)).TrimEnd('\u001e'));
        Assert.Equal("message", message.RootElement.GetProperty("target").GetString());
        Assert.Equal(5, message.RootElement.GetProperty("arguments")[0].GetProperty("data").GetInt32());
    }

    [Fact]
    public async Task A_text_message_that_is_not_utf8_is_closed_with_1007_and_counted()
    {
        // RFC 6455 §8.1: text is UTF-8; a browser drops a connection whose text is not, so the server holds clients to it too.
        var good = await GoodClientAsync();
        var before = await _node.MetricAsync(Malformed);
        await using var bad = await RawSocketClient.OpenHubAsync(_node.ClientPort);

        await bad.SendFrameAsync(ClientFrames.Text, [.. "{\"type\":6,\"x\":\""u8, 0xC3, 0x28, .. "\"}\u001e"u8]);

        await AssertClosedAsync(bad, 1007);
        await AssertCountedOnceAsync(Malformed, before);
        await AssertStillServedAsync(good);
    }

    [Fact]
    public async Task A_character_split_across_fragments_is_valid_utf8_and_a_fragment_ending_mid_character_is_not()
    {
        await using var client = await RawSocketClient.OpenHubAsync(_node.ClientPort);
        var message = Encoding.UTF8.GetBytes("{\"type\":6,\"x\":\"\u00e9\u6f22\"}\u001e");
        var split = Array.IndexOf(message, (byte)0xC3) + 1;

        await client.SendFrameAsync(ClientFrames.Text, message[..split], final: false);
        await client.SendFrameAsync(ClientFrames.Continuation, message[split..], final: true);
        await client.AssertQuietAsync("the split character was accepted");

        // A message whose last fragment ends inside a character is not UTF-8.
        await client.SendFrameAsync(ClientFrames.Text, message[..split], final: false);
        await client.SendFrameAsync(ClientFrames.Continuation, [], final: true);
        await AssertClosedAsync(client, 1007);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(1001)]
    [InlineData(1008)]
    [InlineData(3000)]
    [InlineData(4999)]
    public async Task A_client_close_status_is_echoed(int status)
    {
        // RFC 6455 §5.5.1: the endpoint answering a close "typically echos the status code it received".
        await using var client = await RawSocketClient.OpenHubAsync(_node.ClientPort);

        await client.SendFrameAsync(ClientFrames.Close, [(byte)(status >> 8), (byte)status, .. "bye"u8]);

        await AssertClosedAsync(client, status);
    }

    [Theory]
    [InlineData(new byte[] { 0x03 })]
    [InlineData(new byte[] { 0x03, 0xED })]
    [InlineData(new byte[] { 0x03, 0xEE })]
    [InlineData(new byte[] { 0x00, 0x00 })]
    [InlineData(new byte[] { 0x13, 0x88 })]
    public async Task A_close_frame_with_one_byte_or_a_status_no_peer_may_send_is_closed_with_1002_and_counted(byte[] payload)
    {
        // One byte is half a status; 1005, 1006 and 0 are never sent, 5000 is outside every range (RFC 6455 §7.4).
        var before = await _node.MetricAsync(Malformed);
        await using var client = await RawSocketClient.OpenHubAsync(_node.ClientPort);

        await client.SendFrameAsync(ClientFrames.Close, payload);

        await AssertClosedAsync(client, 1002);
        await AssertCountedOnceAsync(Malformed, before);
    }

    [Fact]
    public async Task A_close_reason_that_is_not_utf8_is_closed_with_1007()
    {
        await using var client = await RawSocketClient.OpenHubAsync(_node.ClientPort);

        await client.SendFrameAsync(ClientFrames.Close, [0x03, 0xE8, 0xFF, 0xFE]);

        await AssertClosedAsync(client, 1007);
    }

    [Fact]
    public async Task An_upgrade_without_connection_upgrade_gets_400_and_is_counted()
    {
        // RFC 6455 §4.2.1: the handshake's Connection header includes the token Upgrade.
        var before = await _node.MetricAsync(Rejected("bad_upgrade"));
        await using var bad = await RawSocketClient.ConnectAsync(_node.ClientPort);
        var head = RawSocketClient.UpgradeHead("").Replace("Connection: Upgrade\r\n", "Connection: keep-alive\r\n", StringComparison.Ordinal);

        await bad.SendAsync(Encoding.ASCII.GetBytes(head));
        var (status, _, body) = await bad.ReadHttpResponseAsync();

        Assert.Equal(400, status);
        Assert.Equal("Connection must include Upgrade", body);
        Assert.True(await bad.EndsAsync(), "the refused connection stayed open");
        await AssertCountedOnceAsync(Rejected("bad_upgrade"), before);

        // A list that names it is fine.
        await using var listed = await RawSocketClient.ConnectAsync(_node.ClientPort);
        head = RawSocketClient.UpgradeHead("").Replace("Connection: Upgrade\r\n", "Connection: keep-alive, Upgrade\r\n", StringComparison.Ordinal);
        await listed.SendAsync(Encoding.ASCII.GetBytes(head));
        Assert.StartsWith("HTTP/1.1 101 ", await listed.ReadHttpHeadAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_websocket_version_other_than_13_gets_426_and_is_counted()
    {
        var good = await GoodClientAsync();
        var before = await _node.MetricAsync(Rejected("bad_upgrade"));
        await using var bad = await RawSocketClient.ConnectAsync(_node.ClientPort);

        await bad.SendAsync(Encoding.ASCII.GetBytes(RawSocketClient.UpgradeHead("", version: "8")));
        var (status, head, body) = await bad.ReadHttpResponseAsync();

        Assert.Equal(426, status);
        Assert.Contains("\r\nSec-WebSocket-Version: 13", head, StringComparison.Ordinal);
        Assert.Equal("Sec-WebSocket-Version must be 13", body);
        Assert.True(await bad.EndsAsync(), "the refused connection stayed open");
        await AssertCountedOnceAsync(Rejected("bad_upgrade"), before);
        await AssertStillServedAsync(good);
    }

    [Fact]
    public async Task A_malformed_websocket_key_gets_400_and_is_counted()
    {
        var before = await _node.MetricAsync(Rejected("bad_upgrade"));
        await using var bad = await RawSocketClient.ConnectAsync(_node.ClientPort);

        await bad.SendAsync(Encoding.ASCII.GetBytes(RawSocketClient.UpgradeHead("", key: "short")));
        var (status, _, body) = await bad.ReadHttpResponseAsync();

        Assert.Equal(400, status);
        Assert.Equal("Sec-WebSocket-Key is missing or malformed", body);
        Assert.True(await bad.EndsAsync(), "the refused connection stayed open");
        await AssertCountedOnceAsync(Rejected("bad_upgrade"), before);
    }

    [Fact]
    public async Task An_origin_not_in_allowed_origins_gets_403_and_is_counted_while_allowed_ones_connect()
    {
        var good = await GoodClientAsync();
        var before = await _node.MetricAsync(Rejected("origin"));
        await using var evil = await RawSocketClient.ConnectAsync(_node.ClientPort);

        await evil.SendAsync(Encoding.ASCII.GetBytes(RawSocketClient.UpgradeHead("", "Origin: https://evil.example\r\n")));
        var (status, _, body) = await evil.ReadHttpResponseAsync();

        Assert.Equal(403, status);
        Assert.Contains("https://evil.example", body, StringComparison.Ordinal);
        Assert.True(await evil.EndsAsync(), "the refused connection stayed open");
        await AssertCountedOnceAsync(Rejected("origin"), before);

        await using var allowed = await RawSocketClient.ConnectAsync(_node.ClientPort);
        Assert.StartsWith("HTTP/1.1 101 ", await allowed.UpgradeAsync("", "Origin: https://GOOD.example\r\n"), StringComparison.Ordinal);
        Assert.Equal("{}\u001e", (await allowed.HubHandshakeAsync()).Text);
        await AssertStillServedAsync(good);
        Assert.Equal(before + 1, await _node.MetricAsync(Rejected("origin")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello")]
    [InlineData("125 bytes")]
    public async Task A_ping_gets_a_pong_with_the_same_payload_before_and_after_the_hub_handshake(string payload)
    {
        var bytes = payload == "125 bytes" ? Enumerable.Range(0, 125).Select(i => (byte)i).ToArray() : Encoding.UTF8.GetBytes(payload);
        await using var client = await RawSocketClient.ConnectAsync(_node.ClientPort);
        Assert.StartsWith("HTTP/1.1 101 ", await client.UpgradeAsync(), StringComparison.Ordinal);

        await client.SendFrameAsync(ClientFrames.Ping, bytes);
        var pong = await client.ReadFrameAsync();
        Assert.Equal((true, ClientFrames.Pong), (pong.Final, pong.Opcode));
        Assert.Equal(bytes, pong.Payload);

        Assert.Equal("{}\u001e", (await client.HubHandshakeAsync()).Text);
        await client.SendFrameAsync(ClientFrames.Ping, bytes);
        Assert.Equal(bytes, (await client.ReadFrameAsync()).Payload);
    }

    [Fact]
    public async Task A_client_close_frame_gets_a_close_frame_back_and_the_connection_is_forgotten()
    {
        await _node.CallAsync("auth", "set", new { userId = "closer", sessionId = "closer-s" });
        await using var client = await RawSocketClient.OpenHubAsync(_node.ClientPort, "?userId=closer&sessionId=closer-s");
        await _node.ConnectionsAsync("closer", 1);

        await client.SendFrameAsync(ClientFrames.Close, [0x03, 0xE8, (byte)'b', (byte)'y', (byte)'e']);

        await AssertClosedAsync(client, 1000);
        await _node.ConnectionsAsync("closer", 0);
        await Eventually.TrueAsync(() => _node.Sessions.Count == 0, "the closed session is forgotten");
        Assert.Equal(0, (await _node.CallAsync("user", "publish", new { userId = "closer", message = 1 })).GetInt32());
    }

    [Fact]
    public async Task ClientWebSocket_closes_cleanly()
    {
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_node.ClientPort}/push"), Timeout());
        await socket.SendAsync(Encoding.UTF8.GetBytes(RawSocketClient.JsonHandshake), WebSocketMessageType.Text, true, Timeout());
        Assert.Equal("{}\u001e", await ReceiveTextAsync(socket));

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", Timeout());

        Assert.Equal(WebSocketState.Closed, socket.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        await Eventually.TrueAsync(() => _node.Sessions.Count == 0, "the closed session is forgotten");
    }

    [Fact]
    public async Task A_client_that_writes_one_byte_at_a_time_is_understood()
    {
        await _node.CallAsync("auth", "set", new { userId = "slow-writer", sessionId = "sw" });
        await using var client = await RawSocketClient.ConnectAsync(_node.ClientPort);
        var bytes = Encoding.ASCII.GetBytes(RawSocketClient.UpgradeHead(""))
            .Concat(ClientFrames.Build(ClientFrames.Text, Encoding.UTF8.GetBytes(RawSocketClient.JsonHandshake)))
            .Concat(ClientFrames.Build(ClientFrames.Text, Encoding.UTF8.GetBytes("{\"type\":1,\"invocationId\":\"1\",\"target\":\"Authenticate\",\"arguments\":[\"slow-writer\",\"sw\"]}\u001e")))
            .ToArray();

        foreach (var b in bytes)
        {
            await client.SendAsync([b]);
        }

        Assert.StartsWith("HTTP/1.1 101 ", await client.ReadHttpHeadAsync(), StringComparison.Ordinal);
        Assert.Equal("{}\u001e", (await client.ReadFrameAsync()).Text);
        using var completion = JsonDocument.Parse((await client.ReadFrameAsync()).Text.TrimEnd('\u001e'));
        Assert.Equal("slow-writer", completion.RootElement.GetProperty("result").GetString());
        Assert.IsType<WebSocketHubSession>(Assert.Single(await _node.ConnectionsAsync("slow-writer", 1)));
    }

    [Fact]
    public async Task The_upgrade_and_the_first_frames_in_one_write_are_all_read()
    {
        await _node.CallAsync("auth", "set", new { userId = "eager", sessionId = "e" });
        await using var client = await RawSocketClient.ConnectAsync(_node.ClientPort);

        await client.SendAsync([
            .. Encoding.ASCII.GetBytes(RawSocketClient.UpgradeHead("?userId=eager&sessionId=e")),
            .. ClientFrames.Build(ClientFrames.Text, Encoding.UTF8.GetBytes(RawSocketClient.JsonHandshake)),
            .. ClientFrames.Build(ClientFrames.Text, Encoding.UTF8.GetBytes("{\"type\":1,\"invocationId\":\"1\",\"target\":\"Authenticate\",\"arguments\":[\"eager\",\"e\"]}\u001e"))]);

        Assert.StartsWith("HTTP/1.1 101 ", await client.ReadHttpHeadAsync(), StringComparison.Ordinal);
        Assert.Equal("{}\u001e", (await client.ReadFrameAsync()).Text);
        Assert.Contains("\"result\":\"eager\"", (await client.ReadFrameAsync()).Text, StringComparison.Ordinal);
        Assert.IsType<WebSocketHubSession>(Assert.Single(await _node.ConnectionsAsync("eager", 1)));
    }

    /// <summary>What a <see cref="ClientWebSocket"/> call may wait for: the test's own deadline.</summary>
    private CancellationToken Timeout() => _deadline.Token;

    private async Task<string> ReceiveTextAsync(ClientWebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        var length = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), Timeout());
            Assert.Equal(WebSocketMessageType.Text, result.MessageType);
            length += result.Count;
            if (result.EndOfMessage)
            {
                return Encoding.UTF8.GetString(buffer, 0, length);
            }
        }
    }

    private async Task<JsonElement> InvokeAsync(ClientWebSocket socket, string invocation)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(invocation), WebSocketMessageType.Text, true, Timeout());
        using var completion = JsonDocument.Parse((await ReceiveTextAsync(socket)).TrimEnd('\u001e'));
        Assert.Equal(3, completion.RootElement.GetProperty("type").GetInt32());
        return completion.RootElement.Clone();
    }

    /// <summary>
    /// Generated sessions through the real server: good frames (hub pings, some fragmented with a ping between the
    /// fragments, WebSocket pings), then one bad or closing frame. The pings are answered in order, then the connection
    /// closes with the status RFC 6455 gives that frame, and a client connected alongside is still served.
    /// </summary>
    [Fact]
    [Trait("Category", "Fuzz")]
    public async Task Generated_frame_sequences_get_their_pongs_then_the_close_status_the_rfc_gives_the_last_frame()
    {
        var good = await GoodClientAsync();
        await Fuzz.RunAsync("websocket sessions through the server", 400, async random =>
        {
            await using var client = await RawSocketClient.OpenHubAsync(_node.ClientPort);
            var pings = new List<string>();
            var bytes = new List<byte>();
            for (var i = random.Next(4); i > 0; i--)
            {
                var hubPing = "{\"type\":6}\u001e"u8.ToArray();
                if (random.Next(2) == 0)
                {
                    bytes.AddRange(ClientFrames.Build(ClientFrames.Text, hubPing, maskKey: (uint)random.Next()));
                    continue;
                }

                var cut = random.Next(hubPing.Length);
                var ping = $"p{random.Next(1000)}";
                pings.Add(ping);
                bytes.AddRange(ClientFrames.Build(ClientFrames.Text, hubPing.AsSpan(0, cut), final: false));
                bytes.AddRange(ClientFrames.Build(ClientFrames.Ping, Encoding.UTF8.GetBytes(ping)));
                bytes.AddRange(ClientFrames.Build(ClientFrames.Continuation, hubPing.AsSpan(cut)));
            }

            // Written in random pieces: the server reads a stream, not writes.
            var stream = bytes.ToArray();
            for (var at = 0; at < stream.Length;)
            {
                var piece = Math.Min(stream.Length - at, 1 + random.Next(64));
                await client.SendAsync(stream[at..(at + piece)]);
                at += piece;
            }

            // In one write: the server may close as soon as it has read a bad header, before the rest of the frame.
            var (last, status) = LastFrame(random);
            await client.SendAsync(last);

            foreach (var ping in pings)
            {
                var pong = await client.ReadFrameAsync();
                Assert.Equal((ClientFrames.Pong, ping), (pong.Opcode, pong.Text));
            }

            await AssertClosedAsync(client, status);
        });

        await Eventually.TrueAsync(() => _node.Sessions.Count == 1, "only the good session is left");
        await AssertStillServedAsync(good);
    }

    /// <summary>A frame that ends the session, and the close status the server must answer it with.</summary>
    private static (byte[] Frame, int Status) LastFrame(Random random)
    {
        var text = "{\"type\":6}\u001e"u8.ToArray();
        var notUtf8 = new byte[1 + random.Next(8)];
        random.NextBytes(notUtf8);
        notUtf8[0] = (byte)(0x80 | random.Next(0x40)); // a continuation byte first: never UTF-8
        var code = random.Next(7) switch
        {
            0 => 1000,
            1 => 1001,
            2 => 3000 + random.Next(2000),
            3 => 1005,
            4 => random.Next(1000),
            5 => 5000 + random.Next(60_000),
            _ => 1007 + random.Next(8),
        };
        var valid = code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);
        return random.Next(12) switch
        {
            0 => (ClientFrames.Build(ClientFrames.Text, [.. text[..^1], .. notUtf8, 0x1e]), 1007),
            1 => (ClientFrames.Build(ClientFrames.Text, text, masked: false), 1002),
            2 => (ClientFrames.Build(ClientFrames.Continuation, text), 1002),
            3 => ([.. ClientFrames.Build(ClientFrames.Text, text.AsSpan(0, 3), final: false), .. ClientFrames.Build(ClientFrames.Binary, text)], 1002),
            4 => (ClientFrames.Build(ClientFrames.Ping, new byte[126 + random.Next(200)]), 1002),
            5 => (ClientFrames.Build((byte)(ClientFrames.Ping + random.Next(2)), "x"u8, final: false), 1002),
            6 => (ClientFrames.Build(ClientFrames.Text, text, reservedBits: (byte)(1 + random.Next(7))), 1002),
            7 => (ClientFrames.Build((byte)(3 + random.Next(5)), text), 1002),
            8 => (ClientFrames.Build(ClientFrames.Binary, [], declaredLength: HubSession.MaxClientMessageBytes + 1 + random.Next(1 << 20)), 1009),
            9 => (ClientFrames.Build(ClientFrames.Close, []), 1000),
            10 => (ClientFrames.Build(ClientFrames.Close, [(byte)(code >> 8), (byte)code, .. "bye"u8]), valid ? code : 1002),
            _ => (ClientFrames.Build(ClientFrames.Close, [0x03, 0xE8, .. notUtf8]), 1007),
        };
    }
}
