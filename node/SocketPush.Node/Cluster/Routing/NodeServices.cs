using System.Text.Json;
using SocketPush.Client.Services;

namespace SocketPush.Node.Cluster.Routing;

/// <summary>
/// Writes and reads of single records, sent to the node that owns the key (node to node only). A multi-key call
/// such as auth.set runs on the owner of its main key, which reaches the other keys' owners through this.
/// </summary>
[Service("records", "Record operations on the node that owns a key; node to node only.")]
internal interface IRecordService
{
    [Method("Binds the session id to the user; returns the user it belonged to before, or an empty string.")]
    Task<string> BindSessionAsync(string sessionId, string userId, CancellationToken cancellationToken = default);

    [Method("Unbinds the session id if it still belongs to the user.")]
    Task UnbindSessionAsync(string sessionId, string userId, CancellationToken cancellationToken = default);

    [Method("Clears the user's session if it is still the given one (the session id went to another user).")]
    Task ClearSessionAsync(string userId, string sessionId, CancellationToken cancellationToken = default);

    [Method("Adds the user to the channel's subscribers.")]
    Task AddSubscriberAsync(string channelId, string userId, CancellationToken cancellationToken = default);

    [Method("Removes the user from the channel's subscribers.")]
    Task RemoveSubscriberAsync(string channelId, string userId, CancellationToken cancellationToken = default);

    [Method("Records whether a node holds connections of the user: {online, stamp}.")]
    Task SetPresenceAsync(string userId, string nodeId, JsonElement report, CancellationToken cancellationToken = default);

    [Method("Returns the channels with subscribers whose records this node holds.")]
    Task<IReadOnlyList<string>> ListChannelsAsync(CancellationToken cancellationToken = default);

    [Method("Merges a batch of records (a replicated write, a handoff, an anti-entropy round); returns how many of them changed this node's records.")]
    Task<int> MergeAsync(JsonElement batch, CancellationToken cancellationToken = default);

    [Method("Counts the records this node holds: {users, sessions, channels, owned, copies, keysUnderReplicated, missingCopies}; owned are those of keys it owns, copies those it holds as another replica.")]
    Task<JsonElement> CountAsync(CancellationToken cancellationToken = default);

    [Method("Anti-entropy: compares the caller's bucket digests of the records both nodes hold, {From, Digests, MaxBytes}, with this node's; returns {Differing, Included, Records}: the buckets that differ, those whose records came along (whole, up to MaxBytes) and those records.")]
    Task<JsonElement> DigestAsync(JsonElement request, CancellationToken cancellationToken = default);
}

/// <summary>What a node does for its own connections on behalf of the owners (node to node only).</summary>
[Service("edge", "Delivery to and control of one node's own connections; node to node only.")]
internal interface IEdgeService
{
    [Method("Delivers one message to the local connections of the users: {kind, channelId, data, publishedAt, users}; returns the connections reached.")]
    Task<int> DeliverAsync(JsonElement delivery, CancellationToken cancellationToken = default);

    [Method("Closes every local connection of the user, without reconnecting.")]
    Task DisconnectAsync(string userId, CancellationToken cancellationToken = default);

    [Method("Returns the users with a connection open on this node.")]
    Task<IReadOnlyList<string>> ListUsersAsync(CancellationToken cancellationToken = default);
}
