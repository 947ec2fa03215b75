using System.Net;

namespace SocketPush.Node.Tests;

/// <summary>The plain Server-Sent Events stream, read with HttpClient as any SSE client would.</summary>
public sealed class SseTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task User_and_channel_messages_arrive_as_message_events()
    {
        await _node.CallAsync("auth", "set", new { userId = "1", sessionId = "test" });
        using var response = await _node.Client.GetAsync("/sse?userId=1&sessionId=test", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = "1", message = new { a = 1 } })).GetInt32());
        await _node.CallAsync("channel", "subscribe", new { userId = "1", channelId = "news/sport" });
        Assert.Equal(1, (await _node.CallAsync("channel", "publish", new { channelId = "news/sport", message = "goal" })).GetInt32());

        Assert.Equal(("message", """{"kind":"user","data":{"a":1}}"""), Unpositioned(await TestNode.NextSseEventAsync(reader)));
        Assert.Equal(("message", """{"kind":"channel","channelId":"news/sport","data":"goal"}"""), Unpositioned(await TestNode.NextSseEventAsync(reader)));
    }

    [Fact]
    public async Task A_wrong_session_gets_401_with_a_json_error()
    {
        await _node.CallAsync("auth", "set", new { userId = "1", sessionId = "test" });
        using var response = await _node.Client.GetAsync("/sse?userId=1&sessionId=nope");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("""{"error":"Authorization failed","code":"authorization_failed"}""", await response.Content.ReadAsStringAsync());

        using var missing = await _node.Client.GetAsync("/sse");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
    }

    [Fact]
    public async Task Closing_the_stream_removes_the_connection()
    {
        await _node.CallAsync("auth", "set", new { userId = "2", sessionId = "s" });
        var response = await _node.Client.GetAsync("/sse?userId=2&sessionId=s", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = "2", message = 1 })).GetInt32());

        response.Dispose();

        await Eventually.TrueAsync(
            async () => (await _node.CallAsync("user", "publish", new { userId = "2", message = 1 })).GetInt32() == 0,
            "the closed stream is no longer counted");
    }

    private static (string Event, string Data) Unpositioned((string Event, string Data) e) => (e.Event, TestNode.WithoutPosition(e.Data));
}

/// <summary>Pages of other sites connect to the client port when their origin is allowed.</summary>
public sealed class CorsTests
{
    [Theory]
    [InlineData("https://allowed.example", true)]
    [InlineData("https://other.example", false)]
    public async Task Only_configured_origins_get_cors_headers(string origin, bool allowed)
    {
        await using var node = await TestNode.StartAsync(c => c.Options.AllowedOrigins = ["https://allowed.example"]);
        using var request = new HttpRequestMessage(HttpMethod.Options, "/push/negotiate?negotiateVersion=1");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        using var response = await node.Client.SendAsync(request);

        Assert.Equal(allowed, response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) && values.Single() == origin);
    }

    [Fact]
    public async Task The_pages_of_the_cluster_itself_are_allowed_although_only_another_site_is_listed()
    {
        await using var cluster = await TestCluster.StartAsync(2, c => c.Options.AllowedOrigins = ["https://allowed.example"]);
        foreach (var page in new[] { cluster[0].ClientUrl, cluster[1].ClientUrl })
        {
            using var request = new HttpRequestMessage(HttpMethod.Options, "/push/negotiate?negotiateVersion=1");
            request.Headers.Add("Origin", page);
            request.Headers.Add("Access-Control-Request-Method", "POST");
            using var response = await cluster[0].Client.SendAsync(request);
            Assert.True(response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) && values.Single() == page, $"{page} refused");
        }
    }

    [Fact]
    public async Task Any_origin_is_allowed_when_none_is_configured()
    {
        await using var node = await TestNode.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/sse?userId=1&sessionId=x");
        request.Headers.Add("Origin", "https://anywhere.example");
        using var response = await node.Client.SendAsync(request);

        Assert.Equal("https://anywhere.example", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }
}
