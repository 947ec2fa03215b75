using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Owner.History;

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
    OwnerStreams streams,
    OwnerMetrics metrics,
    TimeProvider time)
{
    /// <summary>Appends the message to the user's stream when it keeps history (once per publish id) and delivers it.</summary>
    public Task<int> PublishAsync(string userId, JsonElement message, string publishId, CancellationToken cancellationToken)
    {
        metrics.Published("user");
        return streams.PublishAsync(Keys.User(userId), publishId, message, position =>
            fanOut.ToOwnedUsersAsync(new Publication(PublicationKind.User, null, message, time.GetTimestamp(), position), [userId], cancellationToken));
    }

    public async Task RemoveAsync(string userId, CancellationToken cancellationToken)
    {
        local.Disconnect(userId);
        await Task.WhenAll(presence.OtherNodesOf(userId).Select(node => router.AskAsync(node, new EdgeDisconnect(userId), cancellationToken)));
        await channels.UnsubscribeAllAsync(userId, cancellationToken);
    }
}
