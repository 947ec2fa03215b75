using System.Text.Json;
using SocketPush.Client.Services;

namespace SocketPush.Node.Tests;

public sealed class ServiceSemanticsTests : IDisposable
{
    private readonly ServiceFixture _node = new();

    public void Dispose() => _node.Dispose();

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Fact]
    public async Task Check_returns_the_user_of_a_session()
    {
        await _node.Auth.SetAsync("1", "test");
        Assert.Equal("1", await _node.Auth.CheckAsync("test"));
    }

    [Fact]
    public async Task Set_replaces_the_previous_session_of_the_user()
    {
        await _node.Auth.SetAsync("1", "old");
        await _node.Auth.SetAsync("1", "new");

        Assert.Equal("1", await _node.Auth.CheckAsync("new"));
        var e = await Assert.ThrowsAsync<ServiceException>(() => _node.Auth.CheckAsync("old"));
        Assert.Equal(ErrorCodes.AuthorizationFailed, e.Code);
        Assert.Equal("Authorization failed", e.Message);
    }

    [Fact]
    public async Task A_session_handed_to_another_user_no_longer_authorizes_the_first()
    {
        await _node.Auth.SetAsync("alice", "shared");
        await _node.Auth.SetAsync("bob", "shared");

        Assert.Equal("bob", await _node.Auth.CheckAsync("shared"));
        await _node.Auth.SetAsync("alice", "own");
        Assert.Equal("bob", await _node.Auth.CheckAsync("shared"));
        Assert.Equal("alice", await _node.Auth.CheckAsync("own"));
    }

    [Fact]
    public async Task Check_of_an_unknown_session_fails_with_authorization_failed()
    {
        var e = await Assert.ThrowsAsync<ServiceException>(() => _node.Auth.CheckAsync("never-set"));
        Assert.Equal(ErrorCodes.AuthorizationFailed, e.Code);
    }

    [Fact]
    public async Task Remove_ends_the_session()
    {
        await _node.Auth.SetAsync("1", "test");
        await _node.Auth.RemoveAsync("1");
        await Assert.ThrowsAsync<ServiceException>(() => _node.Auth.CheckAsync("test"));
        await _node.Auth.RemoveAsync("1"); // removing twice is harmless
    }

    [Fact]
    public async Task Publish_to_an_offline_user_reaches_no_connection()
    {
        Assert.Equal(0, await _node.User.PublishAsync("nobody", Json("""{"a":1}""")));
    }

    [Fact]
    public async Task Publish_reaches_every_connection_of_the_user_and_of_every_subscriber_once()
    {
        var tab1 = new RecordingConnection("c1", "1");
        var tab2 = new RecordingConnection("c2", "1");
        var other = new RecordingConnection("c3", "2");
        Assert.Null(_node.Registry.TryAdd(tab1));
        Assert.Null(_node.Registry.TryAdd(tab2));
        Assert.Null(_node.Registry.TryAdd(other));
        await _node.Channel.SubscribeAsync("1", "news");
        await _node.Channel.SubscribeAsync("2", "news");
        await _node.Channel.SubscribeAsync("3", "news");

        Assert.Equal(2, await _node.User.PublishAsync("1", Json("""{"a":1}""")));
        Assert.Equal(3, await _node.Channel.PublishAsync("news", Json("\"n\"")));

        Assert.Equal(["user", "channel"], tab1.Received.Select(m => m.Kind));
        Assert.Equal(["user", "channel"], tab2.Received.Select(m => m.Kind));
        Assert.Equal(["channel"], other.Received.Select(m => m.Kind));
        Assert.Equal("news", other.Received[0].ChannelId);
        Assert.Same(tab1.Received[1], other.Received[0]); // one message object, serialized once, for all
    }

    [Fact]
    public void A_repeated_name_in_a_message_keeps_its_last_value_for_hub_clients()
    {
        var plain = (Dictionary<string, object?>)SocketPush.Node.Edge.PushMessage.ToPlainValue(Json("""{"a":1,"a":2,"b":[true,null,1.5]}"""))!;
        Assert.Equal(2L, Assert.IsType<long>(plain["a"]));
        Assert.Equal(new object?[] { true, null, 1.5 }, (object?[])plain["b"]!);
    }

    [Fact]
    public async Task Publish_to_a_channel_without_online_subscribers_reaches_no_connection()
    {
        await _node.Channel.SubscribeAsync("1", "news");
        Assert.Equal(0, await _node.Channel.PublishAsync("news", Json("\"hi\"")));
        Assert.Equal(0, await _node.Channel.PublishAsync("empty", Json("\"hi\"")));
    }

    [Fact]
    public async Task Subscriptions_are_sets_kept_from_both_sides()
    {
        await _node.Channel.SubscribeAsync("1", "news");
        await _node.Channel.SubscribeAsync("1", "news");
        await _node.Channel.SubscribeAsync("1", "sport");
        await _node.Channel.SubscribeAsync("2", "news");

        Assert.Equal(["news", "sport"], await _node.Channel.GetSubscriptionsAsync("1"));
        Assert.Equal(["1", "2"], await _node.Channel.GetSubscribersAsync("news"));
        Assert.Equal(["news", "sport"], await _node.Channel.ListAllAsync());

        await _node.Channel.UnsubscribeAsync("1", "sport");
        Assert.Equal(["news"], await _node.Channel.GetSubscriptionsAsync("1"));
        Assert.Equal(["news"], await _node.Channel.ListAllAsync());
    }

    [Fact]
    public async Task UnsubscribeAll_leaves_no_trace_of_the_user_in_any_channel()
    {
        await _node.Channel.SubscribeAsync("1", "a");
        await _node.Channel.SubscribeAsync("1", "b");
        await _node.Channel.SubscribeAsync("2", "b");

        await _node.Channel.UnsubscribeAllAsync("1");

        Assert.Empty(await _node.Channel.GetSubscriptionsAsync("1"));
        Assert.Empty(await _node.Channel.GetSubscribersAsync("a"));
        Assert.Equal(["2"], await _node.Channel.GetSubscribersAsync("b"));
        Assert.Equal(["b"], await _node.Channel.ListAllAsync());
    }

    [Fact]
    public async Task User_remove_closes_every_connection_and_unsubscribes()
    {
        var first = new RecordingConnection("c1", "1");
        var second = new RecordingConnection("c2", "1");
        Assert.Null(_node.Registry.TryAdd(first));
        Assert.Null(_node.Registry.TryAdd(second));
        await _node.Channel.SubscribeAsync("1", "news");

        await _node.User.RemoveAsync("1");

        Assert.Equal("user.remove", first.AbortedBecause);
        Assert.Equal("user.remove", second.AbortedBecause);
        Assert.Empty(await _node.Channel.GetSubscriptionsAsync("1"));
    }

    [Fact]
    public async Task ListAll_names_the_users_with_connections()
    {
        Assert.Null(_node.Registry.TryAdd(new RecordingConnection("c1", "1")));
        Assert.Null(_node.Registry.TryAdd(new RecordingConnection("c2", "2")));
        var gone = new RecordingConnection("c3", "3");
        Assert.Null(_node.Registry.TryAdd(gone));
        _node.Registry.Remove(gone);

        Assert.Equal(["1", "2"], (await _node.User.ListAllAsync()).Order());
    }

    [Fact]
    public async Task GetFrontendServer_answers_this_node_on_a_single_node()
    {
        Assert.Equal("http://127.0.0.1:8080", await _node.User.GetFrontendServerAsync("42"));
    }

    [Theory]
    [InlineData("userId", 128, true)]
    [InlineData("userId", 129, false)]
    [InlineData("channelId", 200, true)]
    [InlineData("channelId", 201, false)]
    [InlineData("sessionId", 256, true)]
    [InlineData("sessionId", 257, false)]
    public async Task Ids_are_accepted_up_to_their_length_limit(string kind, int length, bool accepted)
    {
        var id = new string('x', length);
        Func<Task> call = kind switch
        {
            "userId" => () => _node.Channel.SubscribeAsync(id, "c"),
            "channelId" => () => _node.Channel.SubscribeAsync("u", id),
            _ => () => _node.Auth.SetAsync("u", id),
        };

        if (accepted)
        {
            await call();
        }
        else
        {
            var e = await Assert.ThrowsAsync<ServiceException>(call);
            Assert.Equal(ErrorCodes.InvalidArgument, e.Code);
            Assert.Contains(kind, e.Message, StringComparison.Ordinal);
            Assert.Contains($"at most", e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("a/b")]
    [InlineData("ü")]
    [InlineData("x\n")]
    public async Task Invalid_user_ids_are_refused(string userId)
    {
        var e = await Assert.ThrowsAsync<ServiceException>(() => _node.User.PublishAsync(userId, Json("1")));
        Assert.Equal(ErrorCodes.InvalidArgument, e.Code);
    }

    [Fact]
    public async Task A_channel_id_may_contain_slashes_and_a_user_id_colons_and_at_signs()
    {
        await _node.Channel.SubscribeAsync("mail:a.b@example.com", "news/sport_1-2");
        Assert.Equal(["news/sport_1-2"], await _node.Channel.GetSubscriptionsAsync("mail:a.b@example.com"));
    }

    [Fact]
    public async Task Messages_are_accepted_up_to_maxMessageBytes_and_refused_beyond()
    {
        var limit = _node.Config.Options.MaxMessageBytes;
        var atLimit = Json($"\"{new string('a', limit - 2)}\"");
        var overLimit = Json($"\"{new string('a', limit - 1)}\"");

        Assert.Equal(0, await _node.User.PublishAsync("1", atLimit));
        var e = await Assert.ThrowsAsync<ServiceException>(() => _node.User.PublishAsync("1", overLimit));
        Assert.Equal(ErrorCodes.MessageTooLarge, e.Code);
        e = await Assert.ThrowsAsync<ServiceException>(() => _node.Channel.PublishAsync("c", overLimit));
        Assert.Equal(ErrorCodes.MessageTooLarge, e.Code);
    }
}
