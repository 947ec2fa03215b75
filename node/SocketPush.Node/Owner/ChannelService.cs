using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Admin;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Owner;

/// <summary>
/// channel on the owner of its key: <c>u:{userId}</c> for a user's subscriptions, <c>c:{channelId}</c> for the
/// subscribers and publish. A publish groups the subscribers by the node that owns each user (where the user's
/// clients are sent) and hands each node one batch.
/// </summary>
internal sealed class ChannelService(
    RecordStore store,
    ClusterRouter router,
    Replication replication,
    OwnerFanOut fanOut,
    NodeMetrics metrics,
    LiveConfig config,
    TimeProvider time) : IChannelService
{
    /// <summary>Runs on the owner of the user's record, where its subscriptions are counted against <c>options.maxSubscriptionsPerUser</c>.</summary>
    public async Task SubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default)
    {
        var max = config.Options.MaxSubscriptionsPerUser;
        if (!store.TrySubscribe(userId, channelId, max))
        {
            metrics.SubscriptionRefused("max_subscriptions_per_user");
            throw new ServiceException(ErrorCodes.LimitExceeded,
                $"User {userId} is subscribed to options.maxSubscriptionsPerUser ({max}) channels already; unsubscribe it from one first.");
        }

        await Task.WhenAll(
            replication.ReplicateAsync(Keys.User(userId), cancellationToken),
            router.ForKey<IRecordService>(Keys.Channel(channelId)).AddSubscriberAsync(channelId, userId, cancellationToken));
    }

    public async Task UnsubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default)
    {
        store.SetSubscription(userId, channelId, subscribed: false);
        await Task.WhenAll(
            replication.ReplicateAsync(Keys.User(userId), cancellationToken),
            router.ForKey<IRecordService>(Keys.Channel(channelId)).RemoveSubscriberAsync(channelId, userId, cancellationToken));
    }

    public async Task UnsubscribeAllAsync(string userId, CancellationToken cancellationToken = default)
    {
        var channels = store.ClearSubscriptions(userId);
        await Task.WhenAll(channels.Select(c => router.ForKey<IRecordService>(Keys.Channel(c)).RemoveSubscriberAsync(c, userId, cancellationToken))
            .Append(replication.ReplicateAsync(Keys.User(userId), cancellationToken)));
    }

    public Task<IReadOnlyList<string>> GetSubscriptionsAsync(string userId, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. store.SubscriptionsOf(userId).Order(StringComparer.Ordinal)]);

    public Task<IReadOnlyList<string>> GetSubscribersAsync(string channelId, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. store.SubscribersOf(channelId).Order(StringComparer.Ordinal)]);

    public async Task<int> PublishAsync(string channelId, JsonElement message, CancellationToken cancellationToken = default)
    {
        metrics.Published("channel");
        var subscribers = store.SubscribersOf(channelId);
        if (subscribers.IsEmpty)
        {
            return 0;
        }

        return await fanOut.ToSubscribersAsync(new Publication(PublicationKind.Channel, channelId, message, time.GetTimestamp()), subscribers, cancellationToken);
    }

    public Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. store.Channels().Order(StringComparer.Ordinal)]);
}
