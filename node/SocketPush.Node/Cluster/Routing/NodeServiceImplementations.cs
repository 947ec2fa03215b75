using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Owner;

namespace SocketPush.Node.Cluster.Routing;

/// <summary>The records this node holds, as other nodes reach them.</summary>
internal sealed class RecordService(RecordStore store, PresenceTable presence, HybridClock clock, Replication replication, AntiEntropy antiEntropy, MissingCopies missing, ClusterMembership membership) : IRecordService
{
    public async Task<string> BindSessionAsync(string sessionId, string userId, CancellationToken cancellationToken = default)
    {
        var former = store.BindSession(sessionId, userId) ?? "";
        await replication.ReplicateAsync(Keys.Session(sessionId), cancellationToken);
        return former;
    }

    public Task UnbindSessionAsync(string sessionId, string userId, CancellationToken cancellationToken = default)
    {
        store.UnbindSessionIf(sessionId, userId);
        return replication.ReplicateAsync(Keys.Session(sessionId), cancellationToken);
    }

    public Task ClearSessionAsync(string userId, string sessionId, CancellationToken cancellationToken = default)
    {
        store.ClearSessionIf(userId, sessionId);
        return replication.ReplicateAsync(Keys.User(userId), cancellationToken);
    }

    public Task AddSubscriberAsync(string channelId, string userId, CancellationToken cancellationToken = default)
    {
        store.SetSubscriber(channelId, userId, subscribed: true);
        return replication.ReplicateAsync(Keys.Channel(channelId), cancellationToken);
    }

    public Task RemoveSubscriberAsync(string channelId, string userId, CancellationToken cancellationToken = default)
    {
        store.SetSubscriber(channelId, userId, subscribed: false);
        return replication.ReplicateAsync(Keys.Channel(channelId), cancellationToken);
    }

    public Task SetPresenceAsync(string userId, string nodeId, JsonElement report, CancellationToken cancellationToken = default)
    {
        var stamp = report.GetProperty("stamp").GetInt64();
        clock.ObserveFromPeer(stamp, "A presence report");
        presence.Set(userId, nodeId, report.GetProperty("online").GetBoolean(), stamp);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ListChannelsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. store.Channels()]);

    public Task<int> MergeAsync(JsonElement batch, CancellationToken cancellationToken = default)
    {
        if (membership.Leaving)
        {
            // What it took now it would only have to hand on again; the sender keeps it for a node that stays.
            throw new SocketPush.Client.Services.ServiceException(SocketPush.Client.Services.ErrorCodes.Unavailable, "This node is leaving the cluster and takes no records.");
        }

        var records = batch.Deserialize<RecordBatch>() ?? new RecordBatch([], [], []);
        return Task.FromResult(store.Merge(records));
    }

    public Task<JsonElement> CountAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(JsonSerializer.SerializeToElement(HeldRecords.Of(store, membership.View, missing), JsonSerializerOptions.Web));

    public Task<JsonElement> DigestAsync(JsonElement request, CancellationToken cancellationToken = default)
    {
        var digests = request.Deserialize<DigestRequest>() ?? throw new JsonException("empty digest request");
        return Task.FromResult(JsonSerializer.SerializeToElement(antiEntropy.Answer(digests)));
    }
}

/// <summary>This node's own connections, as the owners of their users reach them.</summary>
internal sealed class EdgeService(OwnerFanOut fanOut, ILocalConnections local) : IEdgeService
{
    public Task<int> DeliverAsync(JsonElement batch, CancellationToken cancellationToken = default) => fanOut.DeliverBatchAsync(batch, cancellationToken);

    public Task DisconnectAsync(string userId, CancellationToken cancellationToken = default)
    {
        local.Disconnect(userId);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ListUsersAsync(CancellationToken cancellationToken = default) => Task.FromResult(local.Users());
}
