using SocketPush.Node.Cluster;
using SocketPush.Node.Cluster.Delivery;

namespace SocketPush.Node.Edge;

/// <summary>The edge behind the node's delivery seam: publications become this edge's <see cref="PushMessage"/>s here.</summary>
internal sealed class EdgeConnections(ConnectionRegistry registry, MessageDelivery delivery, ClientMover mover) : ILocalConnections
{
    public event Action<string>? UserOnline
    {
        add => registry.UserOnline += value;
        remove => registry.UserOnline -= value;
    }

    public event Action<string>? UserOffline
    {
        add => registry.UserOffline += value;
        remove => registry.UserOffline -= value;
    }

    public int Count => registry.Count;

    public int MovesPending => mover.Pending;

    public int Deliver(Publication publication, IReadOnlyCollection<string> userIds)
    {
        var message = new PushMessage(publication);
        return userIds.Count == 1 ? delivery.ToUser(message, userIds.First()) : delivery.ToUsers(message, userIds);
    }

    public void Disconnect(string userId)
    {
        foreach (var connection in registry.ConnectionsOf(userId))
        {
            connection.Abort("user.remove", allowReconnect: false);
        }
    }

    public IReadOnlyList<string> Users() => registry.Users();

    public bool IsOnline(string userId) => registry.IsOnline(userId);

    public void MoveClientsToNewOwners(ClusterView before, ClusterView after) => mover.MoveToNewOwners(before, after);
}
