using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Cluster.Routing;

// The public services as every caller sees them (HTTP, clients, the node itself): each call is validated here,
// then runs on the owner of its key, here or on the node a proxy of the same interface reaches.

/// <summary>auth, routed: set and remove to the owner of <c>u:</c>, check to the owner of <c>s:</c>.</summary>
internal sealed class RoutedAuthService(ClusterRouter router) : IAuthService
{
    public Task SetAsync(string userId, string sessionId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        Ids.Validate(nameof(sessionId), sessionId);
        return router.ForKey<IAuthService>(Keys.User(userId)).SetAsync(userId, sessionId, cancellationToken);
    }

    public Task<string> CheckAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(sessionId), sessionId);
        return router.ForKey<IAuthService>(Keys.Session(sessionId)).CheckAsync(sessionId, cancellationToken);
    }

    public Task RemoveAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return router.ForKey<IAuthService>(Keys.User(userId)).RemoveAsync(userId, cancellationToken);
    }
}

/// <summary>user, routed: to the owner of <c>u:</c>; listAll asks every node for its connected users.</summary>
internal sealed class RoutedUserService(ClusterRouter router, MessageLimit limit) : IUserService
{
    public Task<int> PublishAsync(string userId, JsonElement message, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        limit.Check(message);
        return router.ForKey<IUserService>(Keys.User(userId)).PublishAsync(userId, message, cancellationToken);
    }

    public Task RemoveAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return router.ForKey<IUserService>(Keys.User(userId)).RemoveAsync(userId, cancellationToken);
    }

    /// <summary>Answered from the ring on any node: every node computes the same owner.</summary>
    public Task<string> GetFrontendServerAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return Task.FromResult(router.ClientUrlOf(router.OwnerOf(Keys.User(userId))));
    }

    public Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default) =>
        router.UnionAsync<IEdgeService>(edge => edge.ListUsersAsync(cancellationToken));
}

/// <summary>channel, routed: a user's side to the owner of <c>u:</c>, a channel's side to the owner of <c>c:</c>.</summary>
internal sealed class RoutedChannelService(ClusterRouter router, MessageLimit limit) : IChannelService
{
    public Task SubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        Ids.Validate(nameof(channelId), channelId);
        return router.ForKey<IChannelService>(Keys.User(userId)).SubscribeAsync(userId, channelId, cancellationToken);
    }

    public Task UnsubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        Ids.Validate(nameof(channelId), channelId);
        return router.ForKey<IChannelService>(Keys.User(userId)).UnsubscribeAsync(userId, channelId, cancellationToken);
    }

    public Task UnsubscribeAllAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return router.ForKey<IChannelService>(Keys.User(userId)).UnsubscribeAllAsync(userId, cancellationToken);
    }

    public Task<IReadOnlyList<string>> GetSubscriptionsAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return router.ForKey<IChannelService>(Keys.User(userId)).GetSubscriptionsAsync(userId, cancellationToken);
    }

    public Task<IReadOnlyList<string>> GetSubscribersAsync(string channelId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(channelId), channelId);
        return router.ForKey<IChannelService>(Keys.Channel(channelId)).GetSubscribersAsync(channelId, cancellationToken);
    }

    public Task<int> PublishAsync(string channelId, JsonElement message, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(channelId), channelId);
        limit.Check(message);
        return router.ForKey<IChannelService>(Keys.Channel(channelId)).PublishAsync(channelId, message, cancellationToken);
    }

    public Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default) =>
        router.UnionAsync<IRecordService>(records => records.ListChannelsAsync(cancellationToken));
}
