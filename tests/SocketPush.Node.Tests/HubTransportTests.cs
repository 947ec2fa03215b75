using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Edge;
using SocketPush.Node.Edge.HubServer;

namespace SocketPush.Node.Tests;

/// <summary>
/// The node's own server side of SignalR's HTTP transports, spoken to byte by byte as the clients do: negotiate,
/// long polling (GET polls, POST sends, DELETE ends) and Server-Sent Events, with their timeouts and limits.
/// </summary>
public sealed class HubTransportTests
{
    private const string Handshake = "{\"protocol\":\"json\",\"version\":1}\u001e";

    [Fact]
    public async Task Negotiate_v1_answers_an_id_a_separate_token_and_every_transport()
    {
        await using var node = await TestNode.StartAsync();
        using var response = await node.Client.PostAsync("/push/negotiate?negotiateVersion=1&userId=1&sessionId=s", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, body.GetProperty("negotiateVersion").GetInt32());
        var id = body.GetProperty("connectionId").GetString();
        var token = body.GetProperty("connectionToken").GetString();
        Assert.False(string.IsNullOrEmpty(id));
        Assert.False(string.IsNullOrEmpty(token));
        Assert.NotEqual(id, token);
        Assert.Equal(
            """[{"transport":"WebSockets","transferFormats":["Text","Binary"]},{"transport":"ServerSentEvents","transferFormats":["Text"]},{"transport":"LongPolling","transferFormats":["Text","Binary"]}]""",
            body.GetProperty("availableTransports").GetRawText());
        Assert.Equal(1, node.Service<HubConnectionTokens>().Pending);
    }

    [Theory]
    [InlineData("")]
    [InlineData("?negotiateVersion=0")]
    public async Task Negotiate_v0_names_the_connection_by_its_id_alone(string query)
    {
        await using var node = await TestNode.StartAsync();
        using var response = await node.Client.PostAsync("/push/negotiate" + query, null);

        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(0, body.TryGetProperty("negotiateVersion", out var version) ? version.GetInt32() : 0);
        Assert.False(body.TryGetProperty("connectionToken", out _));
        var id = body.GetProperty("connectionId").GetString()!;

        // The id is what a version-0 client polls with.
        using var poll = await node.Client.GetAsync($"/push?id={id}");
        Assert.Equal(HttpStatusCode.OK, poll.StatusCode);
    }

    [Fact]
    public async Task Negotiate_with_a_later_version_gets_version_1_and_a_bad_version_gets_an_error()
    {
        await using var node = await TestNode.StartAsync();
        using var later = await node.Client.PostAsync("/push/negotiate?negotiateVersion=7", null);
        Assert.Equal(1, (await later.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("negotiateVersion").GetInt32());

        using var bad = await node.Client.PostAsync("/push/negotiate?negotiateVersion=x", null);
        var error = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();
        Assert.Contains("non-integer", error, StringComparison.Ordinal);
        using var negative = await node.Client.PostAsync("/push/negotiate?negotiateVersion=-1", null);
        Assert.Equal("The client requested version '-1', but the server does not support this version.", (await negative.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());

        using var get = await node.Client.GetAsync("/push/negotiate");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
    }

    [Fact]
    public async Task Unknown_and_missing_tokens_get_signalr_answers()
    {
        await using var node = await TestNode.StartAsync();
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Post, HttpMethod.Delete })
        {
            using var unknown = await node.Client.SendAsync(new HttpRequestMessage(method, "/push?id=nope") { Content = new StringContent(Handshake) });
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            Assert.Equal("No Connection with that ID", await unknown.Content.ReadAsStringAsync());

            using var missing = await node.Client.SendAsync(new HttpRequestMessage(method, "/push") { Content = new StringContent(Handshake) });
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Equal("Connection ID required", await missing.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task An_unused_token_expires_after_its_lifetime()
    {
        var time = new FakeTimeProvider();
        await using var node = await TestNode.StartAsync(time: time);
        var tokens = node.Service<HubConnectionTokens>();
        var early = await node.NegotiateAsync();
        var late = await node.NegotiateAsync();

        await AdvanceAsync(time, HubConnectionTokens.Lifetime - TimeSpan.FromSeconds(1));
        using var inTime = await node.Client.GetAsync($"/push?id={early}");
        Assert.Equal(HttpStatusCode.OK, inTime.StatusCode);
        Assert.Equal(1, tokens.Pending);

        await AdvanceAsync(time, TimeSpan.FromSeconds(1));
        Assert.Equal(0, tokens.Pending);
        using var expired = await node.Client.GetAsync($"/push?id={late}");
        Assert.Equal(HttpStatusCode.NotFound, expired.StatusCode);
    }

    [Fact]
    public async Task A_token_opens_one_connection_only()
    {
        await using var node = await TestNode.StartAsync();
        var token = await node.NegotiateAsync();
        using var first = await node.Client.GetAsync($"/push?id={token}");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        using var stream = new HttpRequestMessage(HttpMethod.Get, $"/push?id={token}");
        stream.Headers.Accept.ParseAdd("text/event-stream");
        using var other = await node.Client.SendAsync(stream);
        Assert.Equal(HttpStatusCode.BadRequest, other.StatusCode);
    }

    [Fact]
    public async Task Long_polling_delivers_and_DELETE_ends_the_session()
    {
        await using var node = await TestNode.StartAsync();
        var client = await LongPollingClient.OpenAsync(node);

        Assert.Equal(1, (await node.CallAsync("user", "publish", new { userId = "1", message = new { n = 1 } })).GetInt32());
        Assert.Equal(1, (await node.CallAsync("user", "publish", new { userId = "1", message = "two" })).GetInt32());
        using (var poll = await client.PollAsync())
        {
            Assert.Equal(HttpStatusCode.OK, poll.StatusCode);
            Assert.Equal("application/octet-stream", poll.Content.Headers.ContentType?.MediaType);
            Assert.Equal(
                "{\"type\":1,\"target\":\"message\",\"arguments\":[{\"kind\":\"user\",\"data\":{\"n\":1}}]}\u001e"
                + "{\"type\":1,\"target\":\"message\",\"arguments\":[{\"kind\":\"user\",\"data\":\"two\"}]}\u001e",
                TestNode.WithoutPosition(await poll.Content.ReadAsStringAsync()));
        }

        using var delete = await node.Client.DeleteAsync(client.Url);
        Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        Assert.Empty(node.Service<ConnectionRegistry>().ConnectionsOf("1"));
        using var after = await client.PollAsync();
        Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
    }

    [Fact]
    public async Task A_waiting_poll_is_answered_empty_after_the_poll_timeout_and_the_session_stays()
    {
        var time = new FakeTimeProvider();
        await using var node = await TestNode.StartAsync(time: time);
        var client = await LongPollingClient.OpenAsync(node);

        var poll = client.PollAsync();
        await Eventually.TrueAsync(() => client.Session.PollOpen, "the poll waits");
        await AdvanceAsync(time, LongPollingHubSession.PollTimeout - TimeSpan.FromSeconds(1));
        Assert.True(client.Session.PollOpen);
        await AdvanceAsync(time, TimeSpan.FromSeconds(1));

        using var answer = await poll.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("", await answer.Content.ReadAsStringAsync());
        // A poll that waited 90 s is no silence: the client timeout (30 s) did not close the session.
        Assert.Single(node.Service<ConnectionRegistry>().ConnectionsOf("1"));
    }

    [Fact]
    public async Task A_long_polling_client_that_stops_polling_is_dropped_after_the_client_timeout()
    {
        var time = new FakeTimeProvider();
        await using var node = await TestNode.StartAsync(time: time);
        var client = await LongPollingClient.OpenAsync(node);
        var timeout = node.Service<Configuration.LiveConfig>().Options.ClientTimeout;

        await AdvanceAsync(time, timeout - TimeSpan.FromSeconds(1));
        Assert.Single(node.Service<ConnectionRegistry>().ConnectionsOf("1"));
        await AdvanceAsync(time, TimeSpan.FromSeconds(1));
        Assert.Empty(node.Service<ConnectionRegistry>().ConnectionsOf("1"));

        // Were the client still there, its next polls would get the reason, then SignalR's "closed" answer.
        using (var reason = await client.PollAsync())
        {
            Assert.Equal(
                "{\"type\":7,\"error\":\"The server heard nothing from the client in time.\",\"allowReconnect\":true}\u001e",
                await reason.Content.ReadAsStringAsync());
        }

        using var closed = await client.PollAsync();
        Assert.Equal(HttpStatusCode.NoContent, closed.StatusCode);
        using var gone = await client.PollAsync();
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task A_long_polling_slow_consumer_is_closed_and_counted()
    {
        await using var node = await TestNode.StartAsync(c => c.Options.MaxQueuedMessagesPerConnection = 3);
        var client = await LongPollingClient.OpenAsync(node);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(1, (await node.CallAsync("user", "publish", new { userId = "1", message = i })).GetInt32());
        }

        Assert.Equal(0, (await node.CallAsync("user", "publish", new { userId = "1", message = 3 })).GetInt32());
        Assert.Empty(node.Service<ConnectionRegistry>().ConnectionsOf("1"));
        Assert.Contains("socketpush_slow_consumers_closed_total 1\n", await node.Admin.GetStringAsync("/metrics"), StringComparison.Ordinal);
        using var closed = await client.PollAsync();
        Assert.Equal(HttpStatusCode.NoContent, closed.StatusCode);
    }

    [Fact]
    public async Task A_server_sent_events_slow_consumer_is_closed_and_counted()
    {
        await using var node = await TestNode.StartAsync(c => c.Options.MaxQueuedMessagesPerConnection = 2);
        await node.CallAsync("auth", "set", new { userId = "1", sessionId = "s" });
        // A client that reads nothing, with a small receive buffer so that the server's writes stall soon.
        using var reluctant = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        { BaseAddress = new Uri(node.ClientUrl), Timeout = Timeout.InfiniteTimeSpan };
        var token = await node.NegotiateAsync();
        var url = $"/push?id={token}&userId=1&sessionId=s";
        using var stream = new HttpRequestMessage(HttpMethod.Get, url);
        stream.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await reluctant.SendAsync(stream, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using (var handshake = await node.Client.PostAsync(url, new StringContent(Handshake)))
        {
            Assert.Equal(HttpStatusCode.OK, handshake.StatusCode);
        }

        await node.WaitForConnectionsAsync("1", 1);
        var big = new string('x', 60_000);
        var published = 0;
        while ((await node.CallAsync("user", "publish", new { userId = "1", message = big })).GetInt32() == 1)
        {
            Assert.True(++published < 2_000, "the stalled stream was never closed");
        }

        Assert.Empty(node.Service<ConnectionRegistry>().ConnectionsOf("1"));
        Assert.Contains("socketpush_slow_consumers_closed_total 1\n", await node.Admin.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_handshake_is_answered_400_counted_and_ends_the_session()
    {
        await using var node = await TestNode.StartAsync();
        var token = await node.NegotiateAsync();
        var url = $"/push?id={token}";
        using (var first = await node.Client.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var post = await node.Client.PostAsync(url, new StringContent("this is not json\u001e"));

        Assert.Equal(HttpStatusCode.BadRequest, post.StatusCode);
        var problem = await post.Content.ReadAsStringAsync();
        Assert.StartsWith("The server could not read the handshake: ", problem, StringComparison.Ordinal);
        Assert.Contains("socketpush_client_messages_malformed_total 1\n", await node.Admin.GetStringAsync("/metrics"), StringComparison.Ordinal);
        // The client's start fails with the reason, as a handshake answer; then the session is gone.
        using (var answer = await node.Client.GetAsync(url))
        {
            var text = await answer.Content.ReadAsStringAsync();
            Assert.EndsWith("\u001e", text, StringComparison.Ordinal);
            Assert.Equal(problem, JsonDocument.Parse(text[..^1]).RootElement.GetProperty("error").GetString());
        }

        using var closed = await node.Client.GetAsync(url);
        Assert.Equal(HttpStatusCode.NoContent, closed.StatusCode);
    }

    [Fact]
    public async Task A_malformed_hub_message_is_answered_400_and_the_client_learns_why()
    {
        await using var node = await TestNode.StartAsync();
        var client = await LongPollingClient.OpenAsync(node);

        using var post = await node.Client.PostAsync(client.Url, new StringContent("{\"type\":1,\"arguments\":[]}\u001e"));

        Assert.Equal(HttpStatusCode.BadRequest, post.StatusCode);
        var problem = await post.Content.ReadAsStringAsync();
        Assert.StartsWith("The server could not read a message: ", problem, StringComparison.Ordinal);
        Assert.Empty(node.Service<ConnectionRegistry>().ConnectionsOf("1"));
        using var reason = await client.PollAsync();
        var close = JsonDocument.Parse(await reason.Content.ReadAsStringAsync() is var text && text.EndsWith('\u001e') ? text[..^1] : text).RootElement;
        Assert.Equal(7, close.GetProperty("type").GetInt32());
        Assert.Equal(problem, close.GetProperty("error").GetString());
        Assert.False(close.TryGetProperty("allowReconnect", out var allow) && allow.GetBoolean());
        using var posted = await node.Client.PostAsync(client.Url, new StringContent("{\"type\":6}\u001e"));
        Assert.Equal(HttpStatusCode.NotFound, posted.StatusCode);
    }

    [Fact]
    public async Task Server_sent_events_carry_published_line_breaks_as_data_lines()
    {
        await using var node = await TestNode.StartAsync();
        await node.CallAsync("auth", "set", new { userId = "1", sessionId = "s" });
        await using var hub = node.Hub("1", "s", HttpTransportType.ServerSentEvents);
        var inbox = Channel.CreateUnbounded<JsonElement>();
        hub.On<JsonElement>("message", m => inbox.Writer.TryWrite(m));
        await hub.StartAsync();
        await node.WaitForConnectionsAsync("1", 1);

        // The publisher's own whitespace travels with the data, CR and LF included.
        using var publish = await node.Admin.PostAsync("/api/user/publish", new StringContent(
            "{\"userId\": \"1\", \"message\": {\r\n \"a\": [1,\n2],\r \"b\": \"x\\ny\"}}", Encoding.UTF8, "application/json"));
        Assert.True(publish.IsSuccessStatusCode, await publish.Content.ReadAsStringAsync());

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var message = await inbox.Reader.ReadAsync(timeout.Token);
        Assert.Equal(2, message.GetProperty("data").GetProperty("a")[1].GetInt32());
        Assert.Equal("x\ny", message.GetProperty("data").GetProperty("b").GetString());
    }

    [Theory]
    [InlineData("{}\u001e", "data: {}\u001e\r\n\r\n")]
    [InlineData("a\r\nb\nc\rd", "data: a\r\ndata: b\r\ndata: c\r\ndata: d\r\n\r\n")]
    public void An_sse_event_puts_each_line_of_its_payload_on_a_data_line(string payload, string expected)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        SseHubSession.WriteEvent(output, Encoding.UTF8.GetBytes(payload));
        Assert.Equal(expected, Encoding.UTF8.GetString(output.WrittenSpan));
    }

    [Fact]
    public async Task A_page_of_another_origin_may_end_a_long_polling_session()
    {
        await using var node = await TestNode.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Options, "/push?id=x");
        request.Headers.Add("Origin", "https://page.example");
        request.Headers.Add("Access-Control-Request-Method", "DELETE");
        using var response = await node.Client.SendAsync(request);

        Assert.Contains("DELETE", response.Headers.GetValues("Access-Control-Allow-Methods").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_official_client_stops_a_long_polling_connection_with_DELETE()
    {
        await using var node = await TestNode.StartAsync();
        await node.CallAsync("auth", "set", new { userId = "1", sessionId = "s" });
        var hub = node.Hub("1", "s", HttpTransportType.LongPolling);
        await hub.StartAsync();
        await node.WaitForConnectionsAsync("1", 1);

        await hub.StopAsync();

        Assert.Empty(node.Service<ConnectionRegistry>().ConnectionsOf("1"));
        await hub.DisposeAsync();
    }

    [Fact]
    public async Task Stopping_the_node_ends_streams_and_polls_that_never_authenticated()
    {
        var node = await TestNode.StartAsync();
        // Not the node's own client, which the node's disposal disposes first.
        using var client = new HttpClient { BaseAddress = new Uri(node.ClientUrl) };
        var streamToken = await node.NegotiateAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/push?id={streamToken}");
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var stream = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var body = await stream.Content.ReadAsStreamAsync();
        var pollToken = await node.NegotiateAsync();
        (await client.GetAsync($"/push?id={pollToken}")).Dispose();
        var poll = client.GetAsync($"/push?id={pollToken}");
        var polling = (LongPollingHubSession)node.Service<HubConnectionTokens>().Find(pollToken)!;
        await Eventually.TrueAsync(() => polling.PollOpen, "the poll waits");

        var stopping = node.DisposeAsync().AsTask();

        // Well inside the host's 30-second shutdown timeout, which would otherwise end them.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using (var answer = await poll.WaitAsync(timeout.Token))
        {
            // Nothing to say to a client that never finished its handshake: SignalR's "closed".
            Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
        }

        var buffer = new byte[256];
        while (await body.ReadAsync(buffer, timeout.Token) > 0)
        {
        }

        await stopping.WaitAsync(timeout.Token);
    }

    [Fact]
    public async Task A_websocket_upgrade_after_other_requests_on_its_connection_is_served_too()
    {
        await using var node = await TestNode.StartAsync();
        await node.CallAsync("auth", "set", new { userId = "1", sessionId = "s" });
        // One TCP connection for negotiate and then the upgrade, as a proxy that keeps connections alive sends them.
        using var tcp = new TcpClient();
        var clientUri = new Uri(node.ClientUrl);
        await tcp.ConnectAsync(clientUri.Host, clientUri.Port);
        var stream = tcp.GetStream();
        await WriteAsync(stream, "POST /push/negotiate?negotiateVersion=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        var (status, negotiated) = await ReadResponseAsync(stream);
        Assert.StartsWith("HTTP/1.1 200", status, StringComparison.Ordinal);
        var token = JsonDocument.Parse(negotiated).RootElement.GetProperty("connectionToken").GetString();
        await WriteAsync(stream, $"GET /push?id={token}&userId=1&sessionId=s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        var (upgraded, _) = await ReadResponseAsync(stream);
        Assert.StartsWith("HTTP/1.1 101", upgraded, StringComparison.Ordinal);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = false });

        await socket.SendAsync(Encoding.UTF8.GetBytes(Handshake), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        Assert.Equal("{}\u001e", await ReceiveTextAsync(socket));
        var connection = Assert.Single(node.Service<ConnectionRegistry>().ConnectionsOf("1"));
        Assert.Equal(ClientTransport.WebSockets, connection.Transport);
        Assert.Equal(1, (await node.CallAsync("user", "publish", new { userId = "1", message = "hi" })).GetInt32());
        Assert.Equal("{\"type\":1,\"target\":\"message\",\"arguments\":[{\"kind\":\"user\",\"data\":\"hi\"}]}\u001e", TestNode.WithoutPosition(await ReceiveTextAsync(socket)));

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await node.WaitForConnectionsAsync("1", 0);
    }

    private static async Task WriteAsync(NetworkStream stream, string text) => await stream.WriteAsync(Encoding.ASCII.GetBytes(text));

    /// <summary>Reads one HTTP/1.1 response head (and its body, by Content-Length) byte by byte, so nothing after it is consumed.</summary>
    private static async Task<(string Head, string Body)> ReadResponseAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            Assert.Equal(1, await stream.ReadAsync(one, timeout.Token));
            head.Append((char)one[0]);
        }

        var length = head.ToString().Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } line
            ? int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)
            : 0;
        var body = new byte[length];
        await stream.ReadExactlyAsync(body, timeout.Token);
        return (head.ToString(), Encoding.UTF8.GetString(body));
    }

    private static async Task<string> ReceiveTextAsync(WebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[4096];
        var result = await socket.ReceiveAsync(buffer, timeout.Token);
        Assert.True(result.EndOfMessage);
        return Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    /// <summary>Moves fake time a second at a time, as the node's one-second timer would see it.</summary>
    private static async Task AdvanceAsync(FakeTimeProvider time, TimeSpan by)
    {
        for (var passed = TimeSpan.Zero; passed < by; passed += TimeSpan.FromSeconds(1))
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }

        await Task.Yield();
    }

    /// <summary>A long-polling hub client written out by hand: negotiate, first poll, handshake, its answer.</summary>
    private sealed class LongPollingClient(TestNode node, string url, LongPollingHubSession session)
    {
        public string Url { get; } = url;

        public LongPollingHubSession Session { get; } = session;

        /// <summary>Opens a session for user 1, authenticated through the query.</summary>
        public static async Task<LongPollingClient> OpenAsync(TestNode node)
        {
            await node.CallAsync("auth", "set", new { userId = "1", sessionId = "s" });
            var token = await node.NegotiateAsync();
            var url = $"/push?id={token}&userId=1&sessionId=s";
            using (var first = await node.Client.GetAsync(url))
            {
                Assert.Equal(HttpStatusCode.OK, first.StatusCode);
                Assert.Equal("", await first.Content.ReadAsStringAsync());
            }

            using (var handshake = await node.Client.PostAsync(url, new StringContent(Handshake)))
            {
                Assert.Equal(HttpStatusCode.OK, handshake.StatusCode);
            }

            var client = new LongPollingClient(node, url, (LongPollingHubSession)node.Service<HubConnectionTokens>().Find(token)!);
            using (var answer = await client.PollAsync())
            {
                Assert.Equal("{}\u001e", await answer.Content.ReadAsStringAsync());
            }

            Assert.Single(node.Service<ConnectionRegistry>().ConnectionsOf("1"));
            await Eventually.TrueAsync(() => !client.Session.PollOpen, "the answered poll has ended on the server");
            return client;
        }

        public Task<HttpResponseMessage> PollAsync() => node.Client.GetAsync(Url);
    }
}
