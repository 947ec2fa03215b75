using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Owner;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Cluster.Routing;

/// <summary>
/// The records this node holds, as other nodes reach them: single records of keys it owns (written through the
/// owner's one write path, so they replicate), presence reports, and whole batches of records that other replicas
/// send (replicated writes, handoffs, anti-entropy), which are merged.
/// </summary>
internal sealed class RecordService(
    OwnerRecords records, RecordStore store, PresenceTable presence, HybridClock clock, AntiEntropy antiEntropy, MissingCopies missing, ClusterMembership membership)
{
    /// <summary>Binds the session id to the user; returns the user it belonged to before, or an empty string.</summary>
    public async Task<string> BindSessionAsync(string sessionId, string userId)
    {
        var bound = records.BindSession(sessionId, userId);
        await bound.Replicated.ConfigureAwait(false);
        return bound.Value ?? "";
    }

    public string UserOfSession(string sessionId) => store.UserOfSession(sessionId) ?? "";

    public Task UnbindSessionAsync(string sessionId, string userId) => records.UnbindSessionIf(sessionId, userId);

    public Task ClearSessionAsync(string userId, string sessionId) => records.ClearSessionIf(userId, sessionId);

    public Task SetSubscriberAsync(string channelId, string userId, bool subscribed) => records.SetSubscriber(channelId, userId, subscribed);

    /// <summary>Records whether a node holds connections of a user this node owns; a report stamped too far ahead is refused.</summary>
    public void SetPresence(string userId, string nodeId, bool online, long stamp)
    {
        clock.ObserveFromPeer(stamp, "A presence report");
        presence.Set(userId, nodeId, online, stamp);
    }

    public string[] ListChannels() => [.. store.Channels()];

    /// <summary>Merges a batch another node sent; returns how many of its records changed this node's store.</summary>
    public int Merge(RecordBatch batch) =>
        membership.Leaving
            // What it took now it would only have to hand on again; the sender keeps it for a node that stays.
            ? throw new NodeLeavingException("This node is leaving the cluster and takes no records.")
            : store.Merge(batch);

    public HeldRecords Count() => HeldRecords.Of(store, membership.View, missing);

    public DigestAnswer Digest(DigestRequest request) => antiEntropy.Answer(request);
}
