using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Admin;
using SocketPush.Node.Client;

namespace SocketPush.Node.Services;

/// <summary>channel: subscriptions and fan-out to the subscribers' connections on this node.</summary>
internal sealed class ChannelService(
    PushState state,
    MessageDelivery delivery,
    MessageLimit limit,
    NodeMetrics metrics,
    TimeProvider time) : IChannelService
{
    public Task SubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        Ids.Validate(nameof(channelId), channelId);
        state.Subscribe(userId, channelId);
        return Task.CompletedTask;
    }

    public Task UnsubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        Ids.Validate(nameof(channelId), channelId);
        state.Unsubscribe(userId, channelId);
        return Task.CompletedTask;
    }

    public Task UnsubscribeAllAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        state.UnsubscribeAll(userId);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> GetSubscriptionsAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return Task.FromResult<IReadOnlyList<string>>([.. state.SubscriptionsOf(userId).Order(StringComparer.Ordinal)]);
    }

    public Task<IReadOnlyList<string>> GetSubscribersAsync(string channelId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(channelId), channelId);
        return Task.FromResult<IReadOnlyList<string>>([.. state.SubscribersOf(channelId).Order(StringComparer.Ordinal)]);
    }

    public Task<int> PublishAsync(string channelId, JsonElement message, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(channelId), channelId);
        limit.Check(message);
        metrics.Published("channel");
        var subscribers = state.SubscribersOf(channelId);
        if (subscribers.IsEmpty)
        {
            return Task.FromResult(0);
        }

        return Task.FromResult(delivery.ToUsers(new PushMessage("channel", channelId, message, time.GetTimestamp()), subscribers));
    }

    public Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. state.Channels().Order(StringComparer.Ordinal)]);
}
