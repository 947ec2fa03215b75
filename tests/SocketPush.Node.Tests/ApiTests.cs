using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Tests.HubServer;

namespace SocketPush.Node.Tests;

/// <summary>The management API over real HTTP: both forms, the description, and every kind of bad input.</summary>
public sealed class ApiTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(c => c.Options.MaxMessageBytes = 1000);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string path)
    {
        using var response = await _node.Admin.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string body, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        using var response = await _node.Admin.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    [Fact]
    public async Task Api_describes_every_method_of_every_service_interface()
    {
        var (status, api) = await GetAsync("/api");
        Assert.Equal(HttpStatusCode.OK, status);
        foreach (var service in ServiceCatalog.Default.Services)
        {
            var methods = api.GetProperty(service.Name);
            Assert.Equal(service.Methods.Select(m => m.Name).Order(), methods.EnumerateObject().Select(p => p.Name).Order());
            foreach (var method in service.Methods)
            {
                var described = methods.GetProperty(method.Name);
                Assert.Equal(method.Description, described.GetProperty("description").GetString());
                Assert.Equal(method.Parameters.Select(p => $"{p.Name}:{p.Type}"),
                    described.GetProperty("params").EnumerateArray().Select(p => $"{p.GetProperty("name").GetString()}:{p.GetProperty("type").GetString()}"));
            }
        }

        Assert.Equal(
            """[{"name":"userId","type":"string"},{"name":"message","type":"json"},{"name":"publishId","type":"string","optional":true}]""",
            api.GetProperty("user").GetProperty("publish").GetProperty("params").GetRawText());
    }

    [Fact]
    public async Task Both_forms_reach_the_same_services()
    {
        Assert.Equal(JsonValueKind.Null, (await GetAsync("/auth/set/1/test")).Body.GetProperty("result").ValueKind);
        Assert.Equal("1", (await PostAsync("/api/auth/check", """{"sessionId":"test"}""")).Body.GetProperty("result").GetString());
        Assert.Equal("1", (await GetAsync("/auth/check/test")).Body.GetProperty("result").GetString());

        await GetAsync("/channel/subscribe/1/news%2Fsport");
        await PostAsync("/api/channel/subscribe", """{"userId":1,"channelId":"a"}""");
        Assert.Equal("""["a","news/sport"]""", (await GetAsync("/channel/getSubscriptions/1")).Body.GetProperty("result").GetRawText());
        Assert.Equal("""["1"]""", (await PostAsync("/api/channel/getSubscribers", """{"channelId":"news/sport"}""")).Body.GetProperty("result").GetRawText());
        Assert.Equal(0, (await GetAsync("/user/publish/1/%7B%22a%22%3A%22%2541%22%7D")).Body.GetProperty("result").GetInt32());
        Assert.Equal(_node.ClientUrl, (await GetAsync("/user/getFrontendServer/1")).Body.GetProperty("result").GetString());
    }

    [Theory]
    [InlineData("/nope/set/1/2", HttpStatusCode.NotFound, ErrorCodes.UnknownService)]
    [InlineData("/auth/nope/1", HttpStatusCode.NotFound, ErrorCodes.UnknownMethod)]
    [InlineData("/auth/set/1", HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument)]
    [InlineData("/auth/set/1/2/3", HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument)]
    [InlineData("/auth/set/bad%20id/2", HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument)]
    [InlineData("/user/publish/1/not-json", HttpStatusCode.BadRequest, ErrorCodes.MalformedJson)]
    [InlineData("/auth/check/unknown", HttpStatusCode.Forbidden, ErrorCodes.AuthorizationFailed)]
    [InlineData("/favicon.ico", HttpStatusCode.NotFound, ErrorCodes.UnknownService)]
    [InlineData("/auth/check/no.such.session", HttpStatusCode.Forbidden, ErrorCodes.AuthorizationFailed)]
    public async Task Bad_calls_in_the_path_form_get_a_json_error(string path, HttpStatusCode status, string code)
    {
        var (actual, body) = await GetAsync(path);
        Assert.Equal(status, actual);
        Assert.Equal(code, body.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("error").GetString()));
    }

    [Theory]
    [InlineData("/api/nope/set", "{}", HttpStatusCode.NotFound, ErrorCodes.UnknownService)]
    [InlineData("/api/user/nope", "{}", HttpStatusCode.NotFound, ErrorCodes.UnknownMethod)]
    [InlineData("/api/auth/set", """{"userId":"1"}""", HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument)]
    [InlineData("/api/auth/set", """{"userId":"1","sessionId":"s","extra":1}""", HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument)]
    [InlineData("/api/auth/set", """{"userId":{"a":1},"sessionId":"s"}""", HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument)]
    [InlineData("/api/channel/subscribe", """{"userId":"1","channelId":"bad channel"}""", HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument)]
    [InlineData("/api/user/publish", """{"userId":"1","message":""", HttpStatusCode.BadRequest, ErrorCodes.MalformedJson)]
    [InlineData("/api/user/publish", "[1,2]", HttpStatusCode.BadRequest, ErrorCodes.MalformedJson)]
    [InlineData("/api/user/publish", """{"userId":"1"}""", HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument)]
    public async Task Bad_calls_in_the_json_form_get_a_json_error(string path, string body, HttpStatusCode status, string code)
    {
        var (actual, answer) = await PostAsync(path, body);
        Assert.Equal(status, actual);
        Assert.Equal(code, answer.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_body_with_bytes_that_are_not_utf8_is_malformed_json_in_both_forms_and_reaches_no_client()
    {
        await _node.CallAsync("auth", "set", new { userId = "u8", sessionId = "s-u8" });
        using var stream = await _node.Client.GetAsync("/sse?userId=u8&sessionId=s-u8", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        await _node.WaitForConnectionsAsync("u8", 1);

        // printf '{"userId":"u8","message":"\xc3\x28bad"}' | curl --data-binary @- ...: C3 starts a two-byte character, 28 cannot end it.
        byte[] body = [.. "{\"userId\":\"u8\",\"message\":\""u8, 0xC3, 0x28, .. "bad\"}"u8];
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await _node.Admin.PostAsync("/api/user/publish", content);
        var refused = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(ErrorCodes.MalformedJson, refused.GetProperty("code").GetString());
        Assert.Equal("The body is not valid UTF-8: JSON text, and every string in it, must be UTF-8.", refused.GetProperty("error").GetString());

        // The path form: the same bytes percent-encoded in the message, and in an id.
        var (status, answer) = await GetAsync("/user/publish/u8/%22%C3%28bad%22");
        Assert.Equal((HttpStatusCode.BadRequest, ErrorCodes.MalformedJson), (status, answer.GetProperty("code").GetString()));
        Assert.Equal("message is not valid UTF-8 once percent-decoded; the path form takes UTF-8 text, percent-encoded.", answer.GetProperty("error").GetString());
        (status, answer) = await GetAsync("/user/publish/u%C3%28/1");
        Assert.Equal((HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument), (status, answer.GetProperty("code").GetString()));

        // The client got nothing of them: the next message it reads is the next one published.
        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = "u8", message = "next" })).GetInt32());
        var next = await TestNode.NextSseEventAsync(reader);
        Assert.Equal(("message", """{"kind":"user","data":"next"}"""), (next.Event, TestNode.WithoutPosition(next.Data)));
    }

    [Fact]
    public async Task Answers_write_apostrophes_and_markup_as_they_are_and_are_never_sniffed_as_html()
    {
        // An error body (the service name is the caller's), a minimal API result (GET /api's descriptions) and an
        // error of the client port: one encoder for all of them.
        using var error = await _node.Admin.PostAsync("/api/%3Ci%3Eit's/set", new StringContent("{}"));
        using var description = await _node.Admin.GetAsync("/api");
        using var sse = await _node.Client.GetAsync("/sse?userId=nobody&sessionId=none");

        var errorText = await error.Content.ReadAsStringAsync();
        Assert.StartsWith("""{"error":"Unknown service '<i>it's'. Services: """, errorText, StringComparison.Ordinal);
        Assert.Contains("replacing the user's previous one", await description.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        foreach (var response in new[] { error, description, sse })
        {
            Assert.DoesNotContain("\\u00", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        }
    }

    [Fact]
    public async Task Oversize_messages_get_413_in_both_forms()
    {
        var big = new string('x', 1000);
        var (status, body) = await PostAsync("/api/user/publish", JsonSerializer.Serialize(new { userId = "1", message = big }));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal(ErrorCodes.MessageTooLarge, body.GetProperty("code").GetString());
        Assert.Contains("maxMessageBytes", body.GetProperty("error").GetString(), StringComparison.Ordinal);

        (status, body) = await GetAsync($"/channel/publish/c/{Uri.EscapeDataString(JsonSerializer.Serialize(big))}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal(ErrorCodes.MessageTooLarge, body.GetProperty("code").GetString());

        // A body far beyond the limit is refused before it is read whole.
        (status, body) = await PostAsync("/api/user/publish", JsonSerializer.Serialize(new { userId = "1", message = new string('y', 200_000) }));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);

        (status, _) = await PostAsync("/api/user/publish", JsonSerializer.Serialize(new { userId = "1", message = new string('x', 998) }));
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Null_is_a_message_like_any_other_json_value()
    {
        await _node.CallAsync("auth", "set", new { userId = "1", sessionId = "s" });
        using var sse = await _node.Client.GetAsync("/sse?userId=1&sessionId=s", HttpCompletionOption.ResponseHeadersRead);
        var (status, body) = await PostAsync("/api/user/publish", """{"userId":"1","message":null}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, body.GetProperty("result").GetInt32());
        Assert.Equal(0, (await GetAsync("/user/publish/2/null")).Body.GetProperty("result").GetInt32());

        (status, _) = await PostAsync("/api/user/publish", """{"userId":null,"message":1}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task Health_endpoints_answer()
    {
        Assert.Equal("ok", (await GetAsync("/healthz")).Body.GetProperty("status").GetString());
        Assert.Equal("ready", (await GetAsync("/readyz")).Body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Metrics_count_publishes_and_deliveries()
    {
        await _node.CallAsync("auth", "set", new { userId = "1", sessionId = "s" });
        using var sse = await _node.Client.GetAsync("/sse?userId=1&sessionId=s", HttpCompletionOption.ResponseHeadersRead);
        await _node.CallAsync("user", "publish", new { userId = "1", message = 1 });
        await _node.CallAsync("user", "publish", new { userId = "2", message = 1 });

        await Eventually.TrueAsync(async () =>
        {
            var text = await _node.Admin.GetStringAsync("/metrics");
            return text.Contains("socketpush_messages_published_total{kind=\"user\"} 2", StringComparison.Ordinal)
                && text.Contains("socketpush_messages_delivered_total{kind=\"user\"} 1", StringComparison.Ordinal)
                && text.Contains("socketpush_connections{transport=\"sse\"} 1", StringComparison.Ordinal)
                && text.Contains("socketpush_delivery_latency_seconds_count{kind=\"user\"} 1", StringComparison.Ordinal);
        }, "the metrics show 2 publishes, 1 delivery and 1 SSE connection");
    }
}

/// <summary>A node with <c>admin.apiKey</c> set.</summary>
public sealed class ApiKeyTests : IAsyncLifetime
{
    private const string Key = "0123456789abcdef-key";
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(c => c.Admin.ApiKey = Key);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized)]
    [InlineData("wrong-key-wrong-key", HttpStatusCode.Forbidden, ErrorCodes.Forbidden)]
    [InlineData(Key, HttpStatusCode.OK, null)]
    public async Task Every_management_call_needs_the_key(string? key, HttpStatusCode status, string? code)
    {
        foreach (var request in new[]
        {
            new HttpRequestMessage(HttpMethod.Get, "/auth/set/1/test"),
            new HttpRequestMessage(HttpMethod.Post, "/api/auth/set") { Content = JsonContent.Create(new { userId = "1", sessionId = "test" }) },
        })
        {
            if (key is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }

            using var response = await _node.Admin.SendAsync(request);
            Assert.Equal(status, response.StatusCode);
            if (code is not null)
            {
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Equal(code, body.GetProperty("code").GetString());
            }
        }
    }

    [Theory]
    [InlineData(null, 401, ErrorCodes.Unauthorized)]
    [InlineData("wrong-key-wrong-key", 403, ErrorCodes.Forbidden)]
    public async Task A_call_without_the_key_is_answered_at_once_without_reading_its_body_that_never_ends(string? key, int status, string code)
    {
        await using var client = await RawSocketClient.ConnectAsync(new Uri(_node.Host.Identity.AdminUrl).Port);
        var authorization = key is null ? "" : $"Authorization: Bearer {key}\r\n";
        const string Chunk = "{\"userId\": \"1\", \"sessionId\": \"";
        await client.SendAsync(Encoding.ASCII.GetBytes(
            $"POST /api/auth/set HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + $"{Chunk.Length:x}\r\n{Chunk}\r\n"));

        // The body's last chunk never comes: a node that read the body before checking the key would not answer.
        var (answered, _, body) = await client.ReadHttpResponseAsync();

        Assert.Equal(status, answered);
        Assert.Equal(code, JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
        Assert.Equal(1, await _node.MetricAsync($"socketpush_api_calls_total{{service=\"auth\",method=\"set\",code=\"{code}\"}}"));
    }

    [Fact]
    public async Task Unknown_paths_need_the_key_too_and_never_become_metric_labels()
    {
        using var response = await _node.Admin.GetAsync("/scan-" + Guid.NewGuid() + "/x");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var metrics = await _node.Admin.GetStringAsync("/metrics");
        Assert.DoesNotContain("scan-", metrics, StringComparison.Ordinal);
        Assert.Equal(1, await _node.MetricAsync("socketpush_api_calls_total{service=\"unknown\",method=\"unknown\",code=\"unauthorized\"}"));
    }

    [Fact]
    public async Task Description_health_and_metrics_stay_open()
    {
        foreach (var path in new[] { "/api", "/healthz", "/readyz", "/metrics" })
        {
            using var response = await _node.Admin.GetAsync(path);
            Assert.True(response.IsSuccessStatusCode, $"{path} answered {(int)response.StatusCode}");
        }
    }
}
