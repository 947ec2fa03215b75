using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Peers;

namespace SocketPush.Node.Cluster.Routing;

// The public services as every caller sees them (HTTP, clients, the node itself): each call is validated here,
// then runs on the owner of its key, here or on the node a typed peer request reaches.

/// <summary>auth, routed: set and remove to the owner of <c>u:</c>, check to the owner of <c>s:</c>.</summary>
internal sealed class RoutedAuthService(ClusterRouter router) : IAuthService
{
    public Task SetAsync(string userId, string sessionId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        Ids.Validate(nameof(sessionId), sessionId);
        return router.AskOwnerAsync(Keys.User(userId), new AuthSet(userId, sessionId), cancellationToken);
    }

    public Task<string> CheckAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(sessionId), sessionId);
        return router.AskOwnerAsync(Keys.Session(sessionId), new AuthCheck(sessionId), cancellationToken);
    }

    public Task RemoveAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return router.AskOwnerAsync(Keys.User(userId), new AuthRemove(userId), cancellationToken);
    }
}

/// <summary>user, routed: to the owner of <c>u:</c>; listAll asks every node for its connected users.</summary>
internal sealed class RoutedUserService(ClusterRouter router, MessageLimit limit, RoutedHistory history) : IUserService
{
    public Task<JsonElement> HistoryAsync(string userId, string? since = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return history.PageAsync(Keys.User(userId), $"user {userId}", "history.users", since, limit, cancellationToken);
    }

    public Task<int> PublishAsync(string userId, JsonElement message, string? publishId = null, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        limit.Check(message);
        var id = PublishIds.Given(publishId);
        return router.AskOwnerWithFailoverAsync(
            Keys.User(userId),
            local => local.Users.PublishAsync(userId, message, id, cancellationToken),
            () => new UserPublish(userId, PeerJson.Write(message), id),
            cancellationToken);
    }

    public Task RemoveAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return router.AskOwnerAsync(Keys.User(userId), new UserRemove(userId), cancellationToken);
    }

    /// <summary>Answered from the ring on any node: every node computes the same owner.</summary>
    public Task<string> GetFrontendServerAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return Task.FromResult(router.ClientUrlOf(router.OwnerOf(Keys.User(userId))));
    }

    public Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default) =>
        router.UnionAsync(new EdgeListUsers(), cancellationToken);
}

/// <summary>channel, routed: a user's side to the owner of <c>u:</c>, a channel's side to the owner of <c>c:</c>.</summary>
internal sealed class RoutedChannelService(ClusterRouter router, MessageLimit limit, RoutedHistory history) : IChannelService
{
    public Task<JsonElement> HistoryAsync(string channelId, string? since = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(channelId), channelId);
        return history.PageAsync(Keys.Channel(channelId), $"channel {channelId}", "history.channels", since, limit, cancellationToken);
    }

    public Task SubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        Ids.Validate(nameof(channelId), channelId);
        return router.AskOwnerAsync(Keys.User(userId), new ChannelSubscribe(userId, channelId), cancellationToken);
    }

    public Task UnsubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        Ids.Validate(nameof(channelId), channelId);
        return router.AskOwnerAsync(Keys.User(userId), new ChannelUnsubscribe(userId, channelId), cancellationToken);
    }

    public Task UnsubscribeAllAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return router.AskOwnerAsync(Keys.User(userId), new ChannelUnsubscribeAll(userId), cancellationToken);
    }

    public async Task<IReadOnlyList<string>> GetSubscriptionsAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return await router.AskOwnerAsync(Keys.User(userId), new ChannelGetSubscriptions(userId), cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>> GetSubscribersAsync(string channelId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(channelId), channelId);
        return await router.AskOwnerAsync(Keys.Channel(channelId), new ChannelGetSubscribers(channelId), cancellationToken).ConfigureAwait(false);
    }

    public Task<int> PublishAsync(string channelId, JsonElement message, string? publishId = null, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(channelId), channelId);
        limit.Check(message);
        var id = PublishIds.Given(publishId);
        return router.AskOwnerWithFailoverAsync(
            Keys.Channel(channelId),
            local => local.Channels.PublishAsync(channelId, message, id, cancellationToken),
            () => new ChannelPublish(channelId, PeerJson.Write(message), id),
            cancellationToken);
    }

    public Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default) =>
        router.UnionAsync(new RecordsListChannels(), cancellationToken);
}
