using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Admin;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Owner;

/// <summary>
/// user on the owner of <c>u:{userId}</c>: the owner knows from presence which nodes hold the user's connections,
/// so a publish or a remove reaches clients that did not follow a redirect too.
/// </summary>
internal sealed class UserService(
    OwnerFanOut fanOut,
    PresenceTable presence,
    ILocalConnections local,
    ClusterRouter router,
    ChannelService channels,
    NodeMetrics metrics,
    TimeProvider time) : IUserService
{
    public Task<int> PublishAsync(string userId, JsonElement message, CancellationToken cancellationToken = default)
    {
        metrics.Published("user");
        return fanOut.ToOwnedUsersAsync(new Publication(PublicationKind.User, null, message, time.GetTimestamp()), [userId], cancellationToken);
    }

    public async Task RemoveAsync(string userId, CancellationToken cancellationToken = default)
    {
        local.Disconnect(userId);

        await Task.WhenAll(presence.OtherNodesOf(userId).Select(node => router.OnNode<IEdgeService>(node).DisconnectAsync(userId, cancellationToken)));
        await channels.UnsubscribeAllAsync(userId, cancellationToken);
    }

    public Task<string> GetFrontendServerAsync(string userId, CancellationToken cancellationToken = default) =>
        Task.FromResult(router.ClientUrlOf(router.LocalId));

    public Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. local.Users().Order(StringComparer.Ordinal)]);
}
