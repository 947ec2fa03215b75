using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Cluster;

/// <summary>
/// Hands the records this node holds but no longer replicates (a node joined, or this node is leaving) to the nodes
/// that replicate them now, and drops each here only once they acknowledged it. Runs on every ring change and every
/// sweep interval, so that records written here on a stale ring also find their owner; a leave runs it as well.
/// </summary>
internal sealed class HandoffSender : RingSweepJob
{
    /// <summary>Records per handoff message; a batch stays well within what one peer call should carry.</summary>
    internal const int HandoffBatch = 500;

    private readonly ClusterMembership _membership;
    private readonly RecordStore _store;
    private readonly RecordSender _sender;

    public HandoffSender(ClusterMembership membership, RecordStore store, RecordSender sender, TimeProvider time)
        : base(membership, time)
    {
        _membership = membership;
        _store = store;
        _sender = sender;
    }

    /// <summary>Records held here that another node owns now (read by manager.status).</summary>
    public int PendingHandoff { get; private set; }

    /// <summary>Which change it was does not matter: the ring as it is now says where each record goes.</summary>
    protected override Task SweepAsync(RingChange? change, CancellationToken stoppingToken) => HandOffAsync(stoppingToken);

    /// <summary>Sends every record another node owns to it, a batch at a time; each is dropped here only after the owner merged it.</summary>
    internal async Task HandOffAsync(CancellationToken cancellationToken)
    {
        // Counted in full once per sweep (a batch is only the first HandoffBatch of them), then less what is acknowledged.
        var startView = _membership.View;
        PendingHandoff = startView.RingProblem is null ? _store.AllKeys().Count(key => !startView.HoldsLocally(key)) : 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var view = _membership.View;
            if (view.RingProblem is not null)
            {
                return;
            }

            // A record leaves only a node that is none of its key's replicas any more, and goes to all of them.
            var batches = _store.RecordsFor(key => view.HoldsLocally(key) ? null : view.ReplicasOf(key), HandoffBatch);
            if (batches.Count == 0)
            {
                PendingHandoff = 0;
                return;
            }

            var sent = await Task.WhenAll(batches.Select(b => _sender.SendAsync(b.Key, b.Value, handoff: true, cancellationToken))).ConfigureAwait(false);
            var unacknowledged = new RecordBatch([], [], []);
            foreach (var (batch, _) in sent.Where(s => !s.Acknowledged))
            {
                unacknowledged.Add(batch);
            }

            foreach (var (batch, _) in sent.Where(s => s.Acknowledged))
            {
                // Dropped here only once every replica it was sent to has it.
                _store.Forget(batch, keep: unacknowledged);
            }

            if (unacknowledged.Count > 0)
            {
                // The rest waits for the next sweep, rather than being sent again to those that have it.
                return;
            }

            // A record went into the batch of each of its replicas: count each once.
            var handedOver = sent.SelectMany(s => s.Batch.Users.Keys).Distinct(StringComparer.Ordinal).Count()
                + sent.SelectMany(s => s.Batch.Sessions.Keys).Distinct(StringComparer.Ordinal).Count()
                + sent.SelectMany(s => s.Batch.Channels.Keys).Distinct(StringComparer.Ordinal).Count();
            PendingHandoff = Math.Max(0, PendingHandoff - handedOver);
        }
    }
}
