using SocketPush.Client.Services;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Cluster;

/// <summary>
/// Streams follow the ring as records do: after a ring change the owner of each stream it holds sends its whole copy
/// to the replicas the key gained (repair), and a node that is none of a key's replicas any more offers its copy to
/// them and drops it once they all took it (handoff). Between changes, each sweep hands off what is left.
/// </summary>
internal sealed class StreamHandoff : RingSweepJob
{
    private readonly ClusterMembership _membership;
    private readonly HistoryStore _history;
    private readonly StreamReplication _replication;
    private readonly OwnerStreams _owner;

    public StreamHandoff(ClusterMembership membership, HistoryStore history, StreamReplication replication, OwnerStreams owner, TimeProvider time)
        : base(membership, time)
    {
        (_membership, _history, _replication, _owner) = (membership, history, replication, owner);
    }

    protected override async Task SweepAsync(RingChange? change, CancellationToken stoppingToken)
    {
        var view = _membership.View;
        if (view.RingProblem is not null || view.Ring.IsEmpty)
        {
            return;
        }

        foreach (var key in _history.Keys())
        {
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            var replicas = view.ReplicasOf(key);
            if (!replicas.Contains(view.LocalId))
            {
                if (await SendAsync(key, replicas, CopyKind.Offer).ConfigureAwait(false))
                {
                    _history.Forget(key);
                }
            }
            else if (change is { } ring && view.Owner(key) == view.LocalId && !ring.Before.Ring.IsEmpty
                && replicas.Except(ring.Before.ReplicasOf(key)).Where(n => n != view.LocalId).ToArray() is { Length: > 0 } gained)
            {
                try
                {
                    // The owner's copy replaces the gained replicas' copies of other epochs: it must be the stream as the
                    // replicas agree on it, not an epoch this node wrote on its side of a partition that just healed.
                    await _owner.TakeOverIfNeededAsync(key).ConfigureAwait(false);
                }
                catch (ServiceException)
                {
                    // The takeover could not reach the quorum: the stream's next message or read tries again, and
                    // its copies reach the replicas then.
                    continue;
                }

                await SendAsync(key, gained, CopyKind.WholeStream).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether every node took the copy (a conflict counts as taken: the owner's takeover settles it).</summary>
    private async Task<bool> SendAsync(string key, string[] nodes, CopyKind kind)
    {
        if (nodes.Length == 0 || _history.Snapshot(key) is not { } whole || whole.Top.Epoch.Length == 0)
        {
            return nodes.Length > 0;
        }

        var results = await Task.WhenAll(nodes.Select(async node =>
        {
            try
            {
                return await _replication.SendWholeAsync(node, key, whole, kind).ConfigureAwait(false) != CopyResult.NeedsWholeStream;
            }
            catch (ServiceException)
            {
                return false;
            }
        })).ConfigureAwait(false);
        return results.All(taken => taken);
    }
}
