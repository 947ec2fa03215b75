using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Cluster;

/// <summary>
/// Restores <c>cluster.replicas</c> copies: on a ring change, notes the copies this node owes the nodes that keys'
/// replicas gained (<see cref="MissingCopies"/>, where replicated writes that were not acknowledged are noted too),
/// and at every change and sweep interval sends what is owed.
/// </summary>
internal sealed class CopyRepair : RingSweepJob
{
    private readonly ClusterMembership _membership;
    private readonly RecordStore _store;
    private readonly MissingCopies _missing;
    private readonly RecordSender _sender;
    private readonly ClusterMetrics _metrics;

    public CopyRepair(ClusterMembership membership, RecordStore store, MissingCopies missing, RecordSender sender, ClusterMetrics metrics, TimeProvider time)
        : base(membership, time)
    {
        _membership = membership;
        _store = store;
        _missing = missing;
        _sender = sender;
        _metrics = metrics;
    }

    protected override async Task SweepAsync(RingChange? change, CancellationToken stoppingToken)
    {
        if (change is { } ringChange)
        {
            OweGainedReplicas(ringChange.Before, ringChange.After);
        }

        await RepairAsync(stoppingToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Keys whose replicas gained a node (a node died or left, or joined) are owed to it by one node that held them
    /// before and still does: the first such replica, so the copy is sent once, not by every holder. Records of
    /// keys this node holds no more go out with the handoff, which also reaches the gained nodes.
    /// </summary>
    private void OweGainedReplicas(ClusterView before, ClusterView after)
    {
        if (before.RingProblem is not null || after.RingProblem is not null)
        {
            return;
        }

        foreach (var key in _store.AllKeys())
        {
            var now = after.ReplicasOf(key);
            var then = before.ReplicasOf(key);
            if (now.Contains(after.LocalId) && now.FirstOrDefault(then.Contains) == after.LocalId)
            {
                foreach (var node in now.Where(n => !then.Contains(n)))
                {
                    _missing.Add(node, key);
                }
            }
        }
    }

    /// <summary>
    /// Sends the copies this node owes (<see cref="MissingCopies"/>), a batch per node at a time, and crosses off what
    /// was acknowledged; a node that does not acknowledge is tried again at the next sweep. What a key owes a node
    /// that is none of its replicas any more is dropped: the ring change that removed it owed the copy to another.
    /// </summary>
    internal async Task RepairAsync(CancellationToken cancellationToken)
    {
        var view = _membership.View;
        if (view.RingProblem is not null)
        {
            return;
        }

        _missing.Retain((node, key) =>
        {
            var replicas = view.ReplicasOf(key);
            return replicas.Contains(node) && replicas.Contains(view.LocalId);
        });
        var failed = new HashSet<string>(StringComparer.Ordinal);
        while (!cancellationToken.IsCancellationRequested)
        {
            var next = _missing.Next(HandoffSender.HandoffBatch).Where(n => !failed.Contains(n.Key)).ToList();
            if (next.Count == 0)
            {
                return;
            }

            await Task.WhenAll(next.Select(async owed =>
            {
                var batch = new RecordBatch([], [], []);
                foreach (var key in owed.Value)
                {
                    batch.Add(_store.Snapshot(key));
                }

                if ((await _sender.SendAsync(owed.Key, batch, handoff: false, cancellationToken).ConfigureAwait(false)).Acknowledged)
                {
                    _missing.Sent(owed.Key, owed.Value);
                    _metrics.CopiesRepaired(owed.Value.Length);
                }
                else
                {
                    lock (failed)
                    {
                        failed.Add(owed.Key);
                    }
                }
            })).ConfigureAwait(false);
        }
    }
}
