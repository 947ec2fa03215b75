using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Owner;

/// <summary>
/// channel on the owner of its key: <c>u:{userId}</c> for a user's subscriptions, <c>c:{channelId}</c> for the
/// subscribers and publish. A subscription is written on both keys: the user's record here, the channel's on its owner.
/// </summary>
internal sealed class ChannelService(
    OwnerRecords records,
    ClusterRouter router,
    OwnerFanOut fanOut,
    OwnerStreams streams,
    OwnerMetrics metrics,
    LiveConfig config,
    TimeProvider time)
{
    /// <summary>Runs on the owner of the user's record, where its subscriptions are counted against <c>options.maxSubscriptionsPerUser</c>.</summary>
    public async Task SubscribeAsync(string userId, string channelId, CancellationToken cancellationToken)
    {
        var max = config.Options.MaxSubscriptionsPerUser;
        var subscribed = records.TrySubscribe(userId, channelId, max);
        if (!subscribed.Value)
        {
            metrics.SubscriptionRefused("max_subscriptions_per_user");
            throw new ServiceException(ErrorCodes.LimitExceeded,
                $"User {userId} is subscribed to options.maxSubscriptionsPerUser ({max}) channels already; unsubscribe it from one first.");
        }

        await Task.WhenAll(
            subscribed.Replicated,
            router.AskOwnerAsync(Keys.Channel(channelId), new RecordsAddSubscriber(channelId, userId), cancellationToken));
    }

    public async Task UnsubscribeAsync(string userId, string channelId, CancellationToken cancellationToken)
    {
        await Task.WhenAll(
            records.Unsubscribe(userId, channelId),
            router.AskOwnerAsync(Keys.Channel(channelId), new RecordsRemoveSubscriber(channelId, userId), cancellationToken));
    }

    public async Task UnsubscribeAllAsync(string userId, CancellationToken cancellationToken)
    {
        var cleared = records.ClearSubscriptions(userId);
        await Task.WhenAll(cleared.Value
            .Select(channelId => (Task)router.AskOwnerAsync(Keys.Channel(channelId), new RecordsRemoveSubscriber(channelId, userId), cancellationToken))
            .Append(cleared.Replicated));
    }

    public string[] GetSubscriptions(string userId) => [.. records.SubscriptionsOf(userId).Order(StringComparer.Ordinal)];

    public string[] GetSubscribers(string channelId) => [.. records.SubscribersOf(channelId).Order(StringComparer.Ordinal)];

    /// <summary>
    /// Appends the message to the channel's stream when it keeps history (once per publish id) and delivers it to
    /// the subscribers; returns the connections it reached (0 for a publish id the stream held already).
    /// </summary>
    public Task<int> PublishAsync(string channelId, JsonElement message, string publishId, CancellationToken cancellationToken)
    {
        metrics.Published("channel");
        return streams.PublishAsync(Keys.Channel(channelId), publishId, message, position =>
        {
            var subscribers = records.SubscribersOf(channelId);
            return subscribers.IsEmpty
                ? Task.FromResult(0)
                : fanOut.ToSubscribersAsync(new Publication(PublicationKind.Channel, channelId, message, time.GetTimestamp(), position), subscribers, cancellationToken);
        });
    }
}
