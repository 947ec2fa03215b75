using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Client.Tests.Infrastructure;

namespace SocketPush.Client.Tests;

/// <summary>Every method of the .NET client against a live node, with its effect seen by a client on the SSE stream.</summary>
public sealed class ClientTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly JsonElement Hello = JsonSerializer.SerializeToElement(new { text = "hello", n = 1 });

    [Fact]
    public async Task Auth_set_check_and_remove()
    {
        using var client = fixture.Node.CreateClient();
        var user = TestIds.User();
        var session = TestIds.Session();

        await client.Auth.SetAsync(user, session);
        Assert.Equal(user, await client.Auth.CheckAsync(session));

        await client.Auth.RemoveAsync(user);
        var error = await Assert.ThrowsAsync<ServiceException>(() => client.Auth.CheckAsync(session));
        Assert.Equal(ErrorCodes.AuthorizationFailed, error.Code);
        Assert.Equal("Authorization failed", error.Message);
    }

    [Fact]
    public async Task Auth_set_replaces_the_previous_session()
    {
        using var client = fixture.Node.CreateClient();
        var user = TestIds.User();
        var first = TestIds.Session();
        var second = TestIds.Session();

        await client.Auth.SetAsync(user, first);
        await client.Auth.SetAsync(user, second);

        Assert.Equal(user, await client.Auth.CheckAsync(second));
        Assert.Equal(ErrorCodes.AuthorizationFailed, (await Assert.ThrowsAsync<ServiceException>(() => client.Auth.CheckAsync(first))).Code);
    }

    [Fact]
    public async Task A_number_is_a_valid_user_id()
    {
        using var client = fixture.Node.CreateClient();
        var user = Random.Shared.NextInt64(1_000_000, 9_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var session = TestIds.Session();

        await client.Auth.SetAsync(user, session);

        Assert.Equal(user, await client.Auth.CheckAsync(session));
    }

    [Fact]
    public async Task User_publish_reaches_every_connection_of_the_user_and_nothing_when_offline()
    {
        using var client = fixture.Node.CreateClient();
        var user = TestIds.User();
        var session = TestIds.Session();
        await client.Auth.SetAsync(user, session);

        Assert.Equal(0, await client.User.PublishAsync(user, Hello));

        await using var tab1 = await SseListener.ConnectAsync(fixture.Node.ClientUrl, user, session);
        await using var tab2 = await SseListener.ConnectAsync(fixture.Node.ClientUrl, user, session);
        Assert.Equal(2, await client.User.PublishAsync(user, Hello));

        foreach (var tab in new[] { tab1, tab2 })
        {
            var received = await tab.NextAsync();
            Assert.Equal("user", received.GetProperty("kind").GetString());
            Assert.True(JsonElement.DeepEquals(Hello, received.GetProperty("data")), received.ToString());
        }
    }

    [Fact]
    public async Task User_list_all_and_remove_follow_the_connections()
    {
        using var client = fixture.Node.CreateClient();
        var user = TestIds.User();
        var session = TestIds.Session();
        var channel = TestIds.Channel();
        await client.Auth.SetAsync(user, session);
        await client.Channel.SubscribeAsync(user, channel);
        Assert.DoesNotContain(user, await client.User.ListAllAsync());

        var listener = await SseListener.ConnectAsync(fixture.Node.ClientUrl, user, session);
        await using (listener)
        {
            Assert.Contains(user, await client.User.ListAllAsync());

            await client.User.RemoveAsync(user);

            await listener.Completion.WaitAsync(TimeSpan.FromSeconds(15));
        }

        Assert.DoesNotContain(user, await client.User.ListAllAsync());
        Assert.Empty(await client.Channel.GetSubscriptionsAsync(user));
        Assert.DoesNotContain(user, await client.Channel.GetSubscribersAsync(channel));
    }

    [Fact]
    public async Task User_get_frontend_server_is_the_client_url_of_the_node()
    {
        using var client = fixture.Node.CreateClient();

        var url = await client.User.GetFrontendServerAsync(TestIds.User());

        Assert.Equal(fixture.Node.ClientUrl.ToString().TrimEnd('/'), url.TrimEnd('/'));
    }

    [Fact]
    public async Task Channel_subscriptions_are_seen_from_both_sides_and_by_list_all()
    {
        using var client = fixture.Node.CreateClient();
        var alice = TestIds.User("alice");
        var bob = TestIds.User("bob");
        var news = TestIds.Channel("news");
        var sport = TestIds.Channel("sport");

        await client.Channel.SubscribeAsync(alice, news);
        await client.Channel.SubscribeAsync(alice, news);
        await client.Channel.SubscribeAsync(alice, sport);
        await client.Channel.SubscribeAsync(bob, news);

        Assert.Equal([news, sport], (await client.Channel.GetSubscriptionsAsync(alice)).Order(StringComparer.Ordinal));
        Assert.Equal([alice, bob], (await client.Channel.GetSubscribersAsync(news)).Order(StringComparer.Ordinal));
        Assert.Contains(news, await client.Channel.ListAllAsync());
        Assert.Contains(sport, await client.Channel.ListAllAsync());

        await client.Channel.UnsubscribeAsync(alice, news);
        Assert.Equal([bob], await client.Channel.GetSubscribersAsync(news));
        Assert.Equal([sport], await client.Channel.GetSubscriptionsAsync(alice));

        await client.Channel.UnsubscribeAllAsync(alice);
        Assert.Empty(await client.Channel.GetSubscriptionsAsync(alice));
        Assert.DoesNotContain(sport, await client.Channel.ListAllAsync());
        Assert.Contains(news, await client.Channel.ListAllAsync());
    }

    [Fact]
    public async Task Channel_publish_reaches_the_connections_of_subscribers_only()
    {
        using var client = fixture.Node.CreateClient();
        var subscriber = TestIds.User();
        var other = TestIds.User();
        var channel = TestIds.Channel();
        var session = TestIds.Session();
        var otherSession = TestIds.Session();
        await client.Auth.SetAsync(subscriber, session);
        await client.Auth.SetAsync(other, otherSession);
        await client.Channel.SubscribeAsync(subscriber, channel);
        await using var subscriberStream = await SseListener.ConnectAsync(fixture.Node.ClientUrl, subscriber, session);
        await using var otherStream = await SseListener.ConnectAsync(fixture.Node.ClientUrl, other, otherSession);

        Assert.Equal(1, await client.Channel.PublishAsync(channel, Hello));
        // Sent after the channel message on the same stream of the other user: if the channel message had
        // reached the other user it would arrive first.
        Assert.Equal(1, await client.User.PublishAsync(other, JsonSerializer.SerializeToElement("direct")));

        var received = await subscriberStream.NextAsync();
        Assert.Equal("channel", received.GetProperty("kind").GetString());
        Assert.Equal(channel, received.GetProperty("channelId").GetString());
        Assert.True(JsonElement.DeepEquals(Hello, received.GetProperty("data")), received.ToString());
        var direct = await otherStream.NextAsync();
        Assert.Equal("user", direct.GetProperty("kind").GetString());
        Assert.Equal("direct", direct.GetProperty("data").GetString());
    }

    [Fact]
    public async Task Any_json_value_is_a_message()
    {
        using var client = fixture.Node.CreateClient();
        var user = TestIds.User();
        var session = TestIds.Session();
        await client.Auth.SetAsync(user, session);
        await using var stream = await SseListener.ConnectAsync(fixture.Node.ClientUrl, user, session);

        foreach (var json in new[] { "42", "\"text\"", "[1,\"two\",{\"three\":3}]", "null", "true", "false", "{\"nested\":{\"ü\":\"ß/😀\"}}" })
        {
            using var message = JsonDocument.Parse(json);
            Assert.Equal(1, await client.User.PublishAsync(user, message.RootElement));
            var received = await stream.NextAsync();
            Assert.True(JsonElement.DeepEquals(message.RootElement, received.GetProperty("data")), received.ToString());
        }
    }

    [Fact]
    public async Task A_message_over_the_size_limit_is_refused()
    {
        using var client = fixture.Node.CreateClient();
        var big = JsonSerializer.SerializeToElement(new string('x', 70_000));

        var error = await Assert.ThrowsAsync<ServiceException>(() => client.Channel.PublishAsync(TestIds.Channel(), big));

        Assert.Equal(ErrorCodes.MessageTooLarge, error.Code);
    }

    [Fact]
    public async Task A_cancelled_call_is_an_operation_cancelled_not_a_service_error()
    {
        using var client = fixture.Node.CreateClient();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.User.ListAllAsync(cancelled.Token));
    }

    [Fact]
    public async Task A_client_given_an_http_client_uses_it_and_leaves_it_open()
    {
        using var http = new HttpClient();
        var client = new SocketPushClient(fixture.Node.AdminUrl, httpClient: http);
        var channel = TestIds.Channel();
        await client.Channel.SubscribeAsync(TestIds.User(), channel);

        client.Dispose();

        using var answer = await http.GetAsync(new Uri(fixture.Node.AdminUrl, "/api"));
        Assert.True(answer.IsSuccessStatusCode);
        Assert.Contains(channel, await new SocketPushClient(fixture.Node.AdminUrl, httpClient: http).Channel.ListAllAsync());
    }
}
