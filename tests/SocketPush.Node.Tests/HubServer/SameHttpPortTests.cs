using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>
/// Every connection on the client port is sniffed for a hub upgrade first; whatever is not one must reach the HTTP
/// server with its bytes intact.
/// </summary>
public sealed class SameHttpPortTests : IAsyncLifetime
{
    private FakeClockNode _node = null!;

    public async Task InitializeAsync() => _node = await FakeClockNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task The_demo_page_is_served()
    {
        using var response = await _node.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<html", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_request_whose_first_bytes_look_like_the_hub_arrives_whole_and_the_connection_keeps_serving()
    {
        await using var client = await RawSocketClient.ConnectAsync(_node.ClientPort);

        // "GET /push" could still be the hub; only the next byte tells.
        await client.SendAsync(Encoding.ASCII.GetBytes("GET /push"));
        await client.SendAsync(Encoding.ASCII.GetBytes("x HTTP/1.1\r\nHost: h\r\n\r\n"));
        var (status, _, _) = await client.ReadHttpResponseAsync();
        Assert.Equal(404, status);

        // The same connection now belongs to the HTTP server.
        await client.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        var (pageStatus, head, body) = await client.ReadHttpResponseAsync();
        Assert.Equal(200, pageStatus);
        Assert.Contains("Content-Type: text/html", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("<html", body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_complete_request_for_push_without_upgrade_goes_to_http()
    {
        await using var client = await RawSocketClient.ConnectAsync(_node.ClientPort);

        await client.SendAsync(Encoding.ASCII.GetBytes("GET /push?x HTTP/1.1\r\nHost: h\r\n\r\n"));

        var head = await client.ReadHttpHeadAsync();
        Assert.StartsWith("HTTP/1.1 400 ", head, StringComparison.Ordinal);
        Assert.Equal(0, _node.Sessions.Count);
    }

    [Fact]
    public async Task A_websocket_upgrade_with_a_negotiated_id_is_left_to_http()
    {
        await using var client = await RawSocketClient.ConnectAsync(_node.ClientPort);

        await client.SendAsync(Encoding.ASCII.GetBytes(RawSocketClient.UpgradeHead("?id=not-negotiated")));

        var head = await client.ReadHttpHeadAsync();
        Assert.StartsWith("HTTP/1.1 404 ", head, StringComparison.Ordinal);
        Assert.Equal(0, _node.Sessions.Count);
    }

    [Fact]
    public async Task The_plain_sse_stream_works_on_the_same_port()
    {
        await _node.CallAsync("auth", "set", new { userId = "sse", sessionId = "s" });
        using var response = await _node.Client.GetAsync("/sse?userId=sse&sessionId=s", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = "sse", message = "hi" })).GetInt32());

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        // History is on by default: the event's id holds the position the stream reached.
        Assert.StartsWith("id: u:", await reader.ReadLineAsync(timeout.Token), StringComparison.Ordinal);
        Assert.Equal("event: message", await reader.ReadLineAsync(timeout.Token));
        Assert.Equal("data: {\"kind\":\"user\",\"data\":\"hi\"}", TestNode.WithoutPosition((await reader.ReadLineAsync(timeout.Token))!));
    }

    [Fact]
    public async Task A_client_that_stops_in_the_middle_of_its_first_request_does_not_disturb_others()
    {
        await using (var partial = await RawSocketClient.ConnectAsync(_node.ClientPort))
        {
            await partial.SendAsync(Encoding.ASCII.GetBytes("GET /push?userId=1 HTTP/1.1\r\nUpg"));
            partial.Socket.Shutdown(SocketShutdown.Send);
            Assert.True(await partial.DrainUntilEndAsync(), "the server kept a half-sent request open");
        }

        using var response = await _node.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, _node.Sessions.Count);
    }
}
