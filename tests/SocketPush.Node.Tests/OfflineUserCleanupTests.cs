using SocketPush.Node.Owner;

namespace SocketPush.Node.Tests;

public sealed class OfflineUserCleanupTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly ServiceFixture _node;

    public OfflineUserCleanupTests()
    {
        _node = new ServiceFixture(c => c.Options.RemoveUserAfterDisconnectTimeout = Timeout);
        _node.Get<OfflineUserCleanup>();
    }

    public void Dispose() => _node.Dispose();

    /// <summary>User 1 online with one connection and subscribed to news.</summary>
    private async Task<RecordingConnection> OnlineSubscriberAsync()
    {
        var connection = new RecordingConnection("c1", "1");
        Assert.Null(_node.Registry.TryAdd(connection));
        await _node.Channel.SubscribeAsync("1", "news");
        return connection;
    }

    private async Task<IReadOnlyList<string>> SubscriptionsAsync() => await _node.Channel.GetSubscriptionsAsync("1");

    [Fact]
    public async Task A_user_offline_for_the_whole_timeout_is_unsubscribed_exactly_at_the_boundary()
    {
        _node.Registry.Remove(await OnlineSubscriberAsync());

        _node.Time.Advance(Timeout - TimeSpan.FromTicks(1));
        Assert.Equal(["news"], await SubscriptionsAsync());

        _node.Time.Advance(TimeSpan.FromTicks(1));
        Assert.Empty(await SubscriptionsAsync());
    }

    [Fact]
    public async Task Coming_back_within_the_timeout_keeps_the_subscriptions()
    {
        _node.Registry.Remove(await OnlineSubscriberAsync());
        _node.Time.Advance(Timeout - TimeSpan.FromSeconds(1));
        Assert.Null(_node.Registry.TryAdd(new RecordingConnection("c2", "1")));

        _node.Time.Advance(Timeout * 3);

        Assert.Equal(["news"], await SubscriptionsAsync());
    }

    [Fact]
    public async Task Closing_one_of_two_connections_does_not_start_the_timeout()
    {
        var first = await OnlineSubscriberAsync();
        Assert.Null(_node.Registry.TryAdd(new RecordingConnection("c2", "1")));

        _node.Registry.Remove(first);
        _node.Time.Advance(Timeout * 10);

        Assert.Equal(["news"], await SubscriptionsAsync());
    }

    [Fact]
    public async Task A_timeout_of_zero_never_unsubscribes()
    {
        _node.Config.Options.RemoveUserAfterDisconnectTimeout = TimeSpan.Zero;
        _node.Registry.Remove(await OnlineSubscriberAsync());

        _node.Time.Advance(TimeSpan.FromDays(1));

        Assert.Equal(["news"], await SubscriptionsAsync());
    }
}
