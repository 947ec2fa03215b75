using MemoryPack;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Cluster;

/// <summary>
/// Sends a batch of records for another node to merge, as the handoff and the repair of owed copies both do. A batch
/// that is not acknowledged stays with the caller, which tries again at its next sweep.
/// </summary>
internal sealed class RecordSender
{
    private readonly ClusterRouter _router;
    private readonly ClusterMembership _membership;
    private readonly ClusterMetrics _metrics;
    private readonly ILogger<RecordSender> _logger;

    public RecordSender(ClusterRouter router, ClusterMembership membership, ClusterMetrics metrics, ILogger<RecordSender> logger)
    {
        _router = router;
        _membership = membership;
        _metrics = metrics;
        _logger = logger;
    }

    /// <param name="node">Where to.</param>
    /// <param name="batch">What.</param>
    /// <param name="handoff">A handoff (counted as such), or a copy a replica is owed.</param>
    /// <param name="cancellationToken">Stopping, or the end of a leave.</param>
    public async Task<(RecordBatch Batch, bool Acknowledged)> SendAsync(string node, RecordBatch batch, bool handoff, CancellationToken cancellationToken)
    {
        var why = handoff ? "handoff" : "owed copies";
        try
        {
            await _router.AskAsync(node, new RecordsMerge(batch), cancellationToken).ConfigureAwait(false);
            if (handoff)
            {
                _metrics.HandedOff(batch.Count, MemoryPackSerializer.Serialize(batch, MemoryPackSerializerOptions.Utf8).Length);
            }

            ClusterLog.HandedOff(_logger, batch.Count, node, why);
            return (batch, true);
        }
        catch (PeerUnreachableException e) when (e.Leaving || !_membership.View.Ring.Nodes.Contains(node))
        {
            // No failure: it began to leave too (nodes stopping together), or left while the batch was on its way;
            // either way it is out of the ring now, and the next sweep sends to the replicas of the ring as it is.
            ClusterLog.HandoffTargetLeaving(_logger, node, why);
            return (batch, false);
        }
        catch (ServiceException e)
        {
            ClusterLog.HandoffFailed(_logger, node, why, e.Message);
            return (batch, false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping, or a leave out of time: the batch stays here.
            return (batch, false);
        }
    }
}
