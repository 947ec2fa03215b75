using System.Collections.Immutable;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Owner;

/// <summary>Copies the record of a key this node just wrote to the key's other replicas.</summary>
internal interface IReplicas
{
    /// <summary>Completes once <c>cluster.writeQuorum</c> copies hold the write, or fails <c>unavailable</c> when they do not in time.</summary>
    Task ReplicateAsync(string key);
}

/// <summary>A write's result, and the copying of the written record to its key's replicas, already under way.</summary>
internal readonly record struct Written<T>(T Value, Task Replicated);

/// <summary>
/// The one way the owner of a key writes its records: each write is applied to this node's store (stamped by its
/// hybrid clock there) and copies itself to the key's other replicas, so no caller can forget replication and a new
/// kind of write gets it by being written here. Reads go to the store directly. Records that arrive from other nodes
/// are merged into the store by the cluster's receivers, not written here: they are copies already.
/// </summary>
internal sealed class OwnerRecords(RecordStore store, IReplicas replicas)
{
    /// <summary>Sets the user's session; its value is the session it replaced.</summary>
    public Written<string?> SetSession(string userId, string? sessionId) => Write(Keys.User(userId), store.SetSession(userId, sessionId));

    /// <summary>Clears the user's session if it is still <paramref name="sessionId"/> (the session id went to another user).</summary>
    public Task ClearSessionIf(string userId, string sessionId)
    {
        store.ClearSessionIf(userId, sessionId);
        return replicas.ReplicateAsync(Keys.User(userId));
    }

    /// <summary>Binds the session id to the user; its value is the user it belonged to before, if another.</summary>
    public Written<string?> BindSession(string sessionId, string userId) => Write(Keys.Session(sessionId), store.BindSession(sessionId, userId));

    /// <summary>Unbinds the session id if it still belongs to the user.</summary>
    public Task UnbindSessionIf(string sessionId, string userId)
    {
        store.UnbindSessionIf(sessionId, userId);
        return replicas.ReplicateAsync(Keys.Session(sessionId));
    }

    /// <summary>Subscribes the user unless it is at <paramref name="max"/> subscriptions (0: no limit); false, and nothing written, when refused.</summary>
    public Written<bool> TrySubscribe(string userId, string channelId, int max) =>
        store.TrySubscribe(userId, channelId, max) ? Write(Keys.User(userId), true) : new(false, Task.CompletedTask);

    public Task Unsubscribe(string userId, string channelId)
    {
        store.SetSubscription(userId, channelId, subscribed: false);
        return replicas.ReplicateAsync(Keys.User(userId));
    }

    /// <summary>Removes every subscription of the user; its value is the channels it had.</summary>
    public Written<IReadOnlyList<string>> ClearSubscriptions(string userId) => Write(Keys.User(userId), store.ClearSubscriptions(userId));

    public Task SetSubscriber(string channelId, string userId, bool subscribed)
    {
        store.SetSubscriber(channelId, userId, subscribed);
        return replicas.ReplicateAsync(Keys.Channel(channelId));
    }

    public string? UserOfSession(string sessionId) => store.UserOfSession(sessionId);

    public ImmutableHashSet<string> SubscriptionsOf(string userId) => store.SubscriptionsOf(userId);

    public ImmutableHashSet<string> SubscribersOf(string channelId) => store.SubscribersOf(channelId);

    private Written<T> Write<T>(string key, T value) => new(value, replicas.ReplicateAsync(key));
}
