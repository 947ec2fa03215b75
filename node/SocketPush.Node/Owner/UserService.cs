using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;
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
    OwnerMetrics metrics,
    TimeProvider time)
{
    public Task<int> PublishAsync(string userId, JsonElement message, CancellationToken cancellationToken)
    {
        metrics.Published("user");
        return fanOut.ToOwnedUsersAsync(new Publication(PublicationKind.User, null, message, time.GetTimestamp()), [userId], cancellationToken);
    }

    public async Task RemoveAsync(string userId, CancellationToken cancellationToken)
    {
        local.Disconnect(userId);
        await Task.WhenAll(presence.OtherNodesOf(userId).Select(node => router.AskAsync(node, new EdgeDisconnect(userId), cancellationToken)));
        await channels.UnsubscribeAllAsync(userId, cancellationToken);
    }
}
