using System.Text.Json;

namespace SocketPush.Client.Services;

/// <summary>Channels: users subscribe, and a message published to a channel reaches every subscriber's connections.</summary>
[Service("channel", "Subscribes users to channels and publishes to channels.")]
public interface IChannelService
{
    [Method("Subscribes the user to the channel; subscribing twice changes nothing.")]
    Task SubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default);

    [Method("Unsubscribes the user from the channel.")]
    Task UnsubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default);

    [Method("Unsubscribes the user from every channel.")]
    Task UnsubscribeAllAsync(string userId, CancellationToken cancellationToken = default);

    [Method("Returns the channelIds the user is subscribed to.")]
    Task<IReadOnlyList<string>> GetSubscriptionsAsync(string userId, CancellationToken cancellationToken = default);

    [Method("Returns the userIds subscribed to the channel.")]
    Task<IReadOnlyList<string>> GetSubscribersAsync(string channelId, CancellationToken cancellationToken = default);

    [Method("Sends a JSON message to every connection of every subscriber; returns how many connections it reached (0 if publishId was published already). With history, the message is kept in the channel's stream; a publishId (your own, for retries) is appended once.")]
    Task<int> PublishAsync(string channelId, JsonElement message, string? publishId = null, CancellationToken cancellationToken = default);

    [Method("Returns the channelIds that have at least one subscriber.")]
    Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default);

    [Method("Returns the channel's stream: {epoch, offset, complete, messages: [{offset, id, publishedAt, data}]}, the messages after since (epoch.offset; complete false when history no longer holds them or the epoch changed), or the latest ones without since; at most limit (100 by default, up to 1000).")]
    Task<JsonElement> HistoryAsync(string channelId, string? since = null, int? limit = null, CancellationToken cancellationToken = default);
}
