using SocketPush.Client.Services;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Owner;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster;

/// <summary>
/// Copies a write to the other replicas of its key. The owner applies a write to its own store, then sends the
/// key's whole record (a CRDT, so a copy that arrives late or twice merges harmlessly) to every other replica, and
/// answers once <c>cluster.writeQuorum</c> copies, its own included, have it. Copies still on their way when the
/// quorum is reached complete in the background; a copy a replica did not acknowledge is owed to it
/// (<see cref="MissingCopies"/>) and sent again by the coordinator's sweep, and anti-entropy repairs what is left. When the quorum is not reached within <c>cluster.requestTimeout</c> the call answers 503
/// <c>unavailable</c>: the write is on fewer nodes than asked and may still spread.
/// </summary>
internal sealed class Replication(RecordStore store, ClusterMembership membership, ClusterRouter router, MissingCopies missing, LiveConfig live, ClusterMetrics metrics) : IReplicas
{
    /// <summary>The quorum in force: cluster.writeQuorum, or all replicas of a smaller ring.</summary>
    public static int QuorumOf(ClusterView view, NodeConfig config) => Math.Min(config.Cluster.WriteQuorum, view.Replicas);

    /// <summary>
    /// Sends the record of <paramref name="key"/> to its other replicas and waits for the quorum. Not cancelled with
    /// the call that wrote it: the write is applied here already, and its copies go out whether or not its caller waits.
    /// </summary>
    public Task ReplicateAsync(string key)
    {
        var view = membership.View;
        var replicas = view.ReplicasOf(key);
        var others = replicas.Where(n => n != view.LocalId).ToList();
        if (others.Count == 0)
        {
            return Task.CompletedTask;
        }

        // This node counts as one copy if it is a replica (it is, unless a call was served here after two hops).
        var needed = QuorumOf(view, live.Current) - (others.Count < replicas.Length ? 1 : 0);
        var batch = new RecordsMerge(store.Snapshot(key));
        var copies = others.Select(node => CopyAsync(node, key, batch)).ToList();
        return needed <= 0 ? Task.CompletedTask : WaitForQuorumAsync(key, copies, needed, replicas.Length);
    }

    private async Task<bool> CopyAsync(string node, string key, RecordsMerge batch)
    {
        try
        {
            await router.AskAsync(node, batch, CancellationToken.None).ConfigureAwait(false);
            metrics.RecordReplicated();
            return true;
        }
        catch (Exception e) when (e is ServiceException or OperationCanceledException)
        {
            // Whether or not the call still answers, this replica may lack the write: it is owed the record.
            missing.Add(node, key);
            return false;
        }
    }

    private async Task WaitForQuorumAsync(string key, List<Task<bool>> copies, int needed, int replicas)
    {
        var acknowledged = await Quorum.AcknowledgedAsync(copies, needed).ConfigureAwait(false);
        if (acknowledged >= needed)
        {
            return;
        }

        metrics.QuorumFailed();
        var quorum = needed + (replicas - copies.Count);
        throw new ServiceException(
            ErrorCodes.Unavailable,
            $"The write of {key} reached {acknowledged + replicas - copies.Count} of the {quorum} replicas cluster.writeQuorum asks for "
            + "within cluster.requestTimeout; it may still spread to the others.");
    }
}
