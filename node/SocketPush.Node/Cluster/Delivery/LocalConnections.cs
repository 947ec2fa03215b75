using System.Text.Json;

namespace SocketPush.Node.Cluster.Delivery;

/// <summary>What a publication is addressed to; also the <c>kind</c> clients see and the metrics' label.</summary>
internal enum PublicationKind
{
    User,
    Channel,
}

/// <summary>
/// A published message on its way from the owner of its key to the connections that receive it, in no client's wire
/// format: the edge serializes it once per format it needs, as SignalR's lifetime manager takes a method and its
/// arguments and serializes inside.
/// </summary>
/// <param name="Kind">A user's or a channel's publication.</param>
/// <param name="ChannelId">The channel, for a channel's publication.</param>
/// <param name="Data">The message as published: any JSON value, checked on the way in.</param>
/// <param name="PublishedTimestamp">When the publish was accepted, from this process's <see cref="TimeProvider.GetTimestamp"/>.</param>
/// <param name="Position">Its place in its stream (the user's or the channel's) when the stream keeps history; null otherwise.</param>
internal sealed record Publication(PublicationKind Kind, string? ChannelId, JsonElement Data, long PublishedTimestamp, StreamPosition? Position);

/// <summary>
/// This node's own client connections as the rest of the node sees them: the one seam through which owners deliver
/// and disconnect, and through which the cluster learns which users are connected here and has their clients follow
/// their owners. The edge implements it; connections, transports and wire formats stay behind it.
/// </summary>
internal interface ILocalConnections
{
    /// <summary>A user's first connection on this node opened.</summary>
    event Action<string>? UserOnline;

    /// <summary>A user's last connection on this node closed.</summary>
    event Action<string>? UserOffline;

    /// <summary>The connections open on this node, over all transports.</summary>
    int Count { get; }

    /// <summary>Hands the publication to every local connection of the users without waiting for the network; returns how many took it.</summary>
    int Deliver(Publication publication, IReadOnlyCollection<string> userIds);

    /// <summary>Closes every local connection of the user, telling its clients not to reconnect (user.remove).</summary>
    void Disconnect(string userId);

    /// <summary>The users with a connection open on this node.</summary>
    IReadOnlyList<string> Users();

    bool IsOnline(string userId);

    /// <summary>
    /// After a ring change, once the new owners were told where their users' connections are: asks the clients here
    /// whose user's owner moved to another node to reconnect there, paced so that they do not stampede.
    /// </summary>
    void MoveClientsToNewOwners(ClusterView before, ClusterView after);

    /// <summary>Clients queued to be asked to move that have not been asked yet.</summary>
    int MovesPending { get; }
}
