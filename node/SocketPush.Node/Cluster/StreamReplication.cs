using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Cluster;

/// <summary>
/// The streams' replicas: each sequenced entry goes to the key's other replicas and the publish waits for the write
/// quorum, as a record write does. A replica whose copy is of another epoch or misses entries gets the owner's whole
/// stream instead. A new owner asks the others for their copies (<see cref="AskOthersAsync"/>).
/// </summary>
internal sealed class StreamReplication : IStreamReplicas
{
    private readonly HistoryStore history;
    private readonly ClusterMembership membership;
    private readonly ClusterRouter router;
    private readonly LiveConfig live;
    private readonly ClusterMetrics metrics;
    private readonly ILogger<StreamReplication> logger;

    /// <summary>Follows the ring: once it moves, every stream's owner checks with the other replicas before its next message.</summary>
    public StreamReplication(HistoryStore history, ClusterMembership membership, ClusterRouter router, LiveConfig live, ClusterMetrics metrics, ILogger<StreamReplication> logger)
    {
        (this.history, this.membership, this.router, this.live, this.metrics, this.logger) = (history, membership, router, live, metrics, logger);
        membership.RingChanged += (_, _) => history.OwnersMayHaveMoved();
    }

    /// <summary>Most entries a new owner asks each replica for.</summary>
    public const int TakeoverLimit = 1000;

    /// <remarks>
    /// From the configured replicas and quorum, over the ring as it was before the owner was lost (one node more
    /// than now, at most): the ring of now, one node smaller, would ask for fewer copies than the writes had.
    /// </remarks>
    public int TakeoverQuorum
    {
        get
        {
            var cluster = live.Current.Cluster;
            var replicasBefore = Math.Min(cluster.Replicas, membership.View.Ring.NodeCount + 1);
            return Math.Max(1, replicasBefore - Math.Min(cluster.WriteQuorum, replicasBefore) + 1);
        }
    }

    public Task CopyAsync(string key, string epoch, HistoryEntry entry) =>
        // One request for every replica: the message is serialized once.
        ReplicateAsync(key, epoch, new HistoryCopy(key, epoch, entry.Offset, [HistoryPageEntry.Of(entry)], [.. history.TermsOf(key)], [], CopyKind.Append));

    public Task CopyWholeAsync(string key) =>
        history.Snapshot(key) is { } whole
            ? ReplicateAsync(key, whole.Top.Epoch, WholeCopy(key, whole, CopyKind.WholeStream))
            : Task.CompletedTask;

    private async Task ReplicateAsync(string key, string epoch, HistoryCopy copy)
    {
        var view = membership.View;
        var replicas = view.ReplicasOf(key);
        var others = replicas.Where(n => n != view.LocalId).ToList();
        if (others.Count == 0)
        {
            return;
        }

        var copies = others.Select(node => CopyToAsync(node, key, epoch, copy)).ToList();
        var needed = Replication.QuorumOf(view, live.Current) - (others.Count < replicas.Length ? 1 : 0);
        if (needed <= 0)
        {
            return;
        }

        var acknowledged = await Quorum.AcknowledgedAsync(copies, needed).ConfigureAwait(false);
        if (acknowledged < needed)
        {
            metrics.QuorumFailed();
            throw new ServiceException(ErrorCodes.Unavailable,
                $"The stream of {key} reached {acknowledged + replicas.Length - others.Count} of the {needed + replicas.Length - others.Count} replicas "
                + "cluster.writeQuorum asks for within cluster.requestTimeout; nothing was delivered. A publish may be retried with the same publishId.");
        }
    }

    private async Task<bool> CopyToAsync(string node, string key, string epoch, HistoryCopy copy)
    {
        try
        {
            var result = (CopyResult)await router.AskAsync(node, copy, CancellationToken.None).ConfigureAwait(false);
            if (result == CopyResult.NeedsWholeStream && history.Snapshot(key) is { } whole && whole.Top.Epoch == epoch)
            {
                result = await SendWholeAsync(node, key, whole, CopyKind.WholeStream).ConfigureAwait(false);
            }

            if (result == CopyResult.Conflict)
            {
                ClusterLog.StreamCopyConflict(logger, node, key, $"{copy.Epoch}.{copy.Top}", WriterTerm.Describe(copy.Terms));
                history.Unclaim(key);
            }

            return result == CopyResult.Applied;
        }
        catch (Exception e) when (e is ServiceException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Sends this node's whole copy of a stream to a node, as the owner's or as a handoff's offer.</summary>
    public async Task<CopyResult> SendWholeAsync(string node, string key, StreamSnapshot whole, CopyKind kind) =>
        (CopyResult)await router.AskAsync(node, WholeCopy(key, whole, kind), CancellationToken.None).ConfigureAwait(false);

    private static HistoryCopy WholeCopy(string key, StreamSnapshot whole, CopyKind kind) =>
        new(key, whole.Top.Epoch, whole.Top.Offset, [.. whole.Entries.Select(HistoryPageEntry.Of)], [.. whole.Terms], [.. whole.FormerIds], kind);

    public bool OwnsNow(string key)
    {
        var view = membership.View;
        return !view.Ring.IsEmpty && view.Owner(key) == view.LocalId;
    }

    public async Task<IReadOnlyList<ReplicaStream?>> AskOthersAsync(string key, StreamPosition? mine)
    {
        var view = membership.View;
        var others = view.ReplicasOf(key).Where(n => n != view.LocalId).ToList();
        return await Task.WhenAll(others.Select(node => AskAsync(node, key, mine))).ConfigureAwait(false);
    }

    private async Task<ReplicaStream?> AskAsync(string node, string key, StreamPosition? mine)
    {
        try
        {
            var page = await router.AskAsync(node, new HistoryFetch(key, mine?.Epoch, mine?.Offset ?? 0, TakeoverLimit, asOwner: false), CancellationToken.None)
                .ConfigureAwait(false);
            return page.Enabled ? new ReplicaStream(page.Epoch, page.Offset, page.Complete, [.. page.Entries.Select(e => e.ToEntry())], page.Terms, page.PublishIds) : null;
        }
        catch (Exception e) when (e is ServiceException or OperationCanceledException)
        {
            return null;
        }
    }
}
