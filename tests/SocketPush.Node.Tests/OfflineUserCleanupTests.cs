namespace SocketPush.Node.Tests;

public sealed class OfflineUserCleanupTests
{
    [Fact]
    public async Task A_user_offline_for_the_whole_timeout_is_unsubscribed_exactly_at_the_boundary()
    {
        using var node = new ServiceFixture(c => c.Options.RemoveUserAfterDisconnectTimeout = TimeSpan.FromSeconds(30));
        node.Get<SocketPush.Node.Client.OfflineUserCleanup>();
        var connection = new RecordingConnection("c1", "1");
        node.Registry.Add(connection);
        await node.Channel.SubscribeAsync("1", "news");

        node.Registry.Remove(connection);
        node.Time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromTicks(1));
        Assert.Equal(["news"], await node.Channel.GetSubscriptionsAsync("1"));

        node.Time.Advance(TimeSpan.FromTicks(1));
        Assert.Empty(await node.Channel.GetSubscriptionsAsync("1"));
    }

    [Fact]
    public async Task Coming_back_within_the_timeout_keeps_the_subscriptions()
    {
        using var node = new ServiceFixture(c => c.Options.RemoveUserAfterDisconnectTimeout = TimeSpan.FromSeconds(30));
        node.Get<SocketPush.Node.Client.OfflineUserCleanup>();
        var first = new RecordingConnection("c1", "1");
        node.Registry.Add(first);
        await node.Channel.SubscribeAsync("1", "news");

        node.Registry.Remove(first);
        node.Time.Advance(TimeSpan.FromSeconds(20));
        node.Registry.Add(new RecordingConnection("c2", "1"));
        node.Time.Advance(TimeSpan.FromSeconds(60));

        Assert.Equal(["news"], await node.Channel.GetSubscriptionsAsync("1"));
    }

    [Fact]
    public async Task Closing_one_of_two_connections_does_not_start_the_timeout()
    {
        using var node = new ServiceFixture(c => c.Options.RemoveUserAfterDisconnectTimeout = TimeSpan.FromSeconds(30));
        node.Get<SocketPush.Node.Client.OfflineUserCleanup>();
        var first = new RecordingConnection("c1", "1");
        node.Registry.Add(first);
        node.Registry.Add(new RecordingConnection("c2", "1"));
        await node.Channel.SubscribeAsync("1", "news");

        node.Registry.Remove(first);
        node.Time.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal(["news"], await node.Channel.GetSubscriptionsAsync("1"));
    }

    [Fact]
    public async Task A_timeout_of_zero_never_unsubscribes()
    {
        using var node = new ServiceFixture(c => c.Options.RemoveUserAfterDisconnectTimeout = TimeSpan.Zero);
        node.Get<SocketPush.Node.Client.OfflineUserCleanup>();
        var connection = new RecordingConnection("c1", "1");
        node.Registry.Add(connection);
        await node.Channel.SubscribeAsync("1", "news");

        node.Registry.Remove(connection);
        node.Time.Advance(TimeSpan.FromDays(1));

        Assert.Equal(["news"], await node.Channel.GetSubscriptionsAsync("1"));
    }
}
