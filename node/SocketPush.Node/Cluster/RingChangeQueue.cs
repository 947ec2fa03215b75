using System.Threading.Channels;

namespace SocketPush.Node.Cluster;

/// <summary>A change of the ring's members: the view before and after.</summary>
internal readonly record struct RingChange(ClusterView Before, ClusterView After);

/// <summary>
/// The ring changes one background job has yet to follow. Membership raises them on the gossip loop, which must not
/// wait for peers, so they are queued here and taken on the job's own loop. Changes raised while this node leaves are
/// not queued: every key is elsewhere already, later changes only reshuffle among the others, and the leave follows
/// its own change itself.
/// </summary>
internal sealed class RingChangeQueue(ClusterMembership membership, TimeProvider time)
{
    /// <summary>How long a job waits for a change before it sweeps anyway (records written here on a stale ring, copies not acknowledged).</summary>
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(2);

    private readonly Channel<RingChange> _changes = Channel.CreateUnbounded<RingChange>();

    /// <summary>Queues the changes from now on (the job starts).</summary>
    public void Follow() => membership.RingChanged += OnRingChanged;

    /// <summary>Queues no more (the job stops).</summary>
    public void Unfollow() => membership.RingChanged -= OnRingChanged;

    /// <summary>Every change as it comes, until <paramref name="stoppingToken"/>.</summary>
    public IAsyncEnumerable<RingChange> AllAsync(CancellationToken stoppingToken) => _changes.Reader.ReadAllAsync(stoppingToken);

    /// <summary>The next change, or null when the sweep interval passed without one; throws when <paramref name="stoppingToken"/> is cancelled.</summary>
    public async Task<RingChange?> NextOrSweepAsync(CancellationToken stoppingToken)
    {
        using var sweep = new CancellationTokenSource(SweepInterval, time);
        using var wake = CancellationTokenSource.CreateLinkedTokenSource(sweep.Token, stoppingToken);
        try
        {
            return await _changes.Reader.ReadAsync(wake.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private void OnRingChanged(ClusterView before, ClusterView after)
    {
        if (!membership.Leaving)
        {
            _changes.Writer.TryWrite(new RingChange(before, after));
        }
    }
}

/// <summary>
/// A background job that follows the ring: its work runs after every change, and every sweep interval when none
/// comes (records written here on a stale ring, copies not acknowledged). Changes are followed from start to stop.
/// </summary>
internal abstract class RingSweepJob(ClusterMembership membership, TimeProvider time) : BackgroundService
{
    private readonly RingChangeQueue _ringChanges = new(membership, time);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _ringChanges.Follow();
        return base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _ringChanges.Unfollow();
        return base.StopAsync(cancellationToken);
    }

    /// <summary>The job's work after <paramref name="change"/>, or after a sweep interval without one (null).</summary>
    protected abstract Task SweepAsync(RingChange? change, CancellationToken stoppingToken);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            RingChange? change;
            try
            {
                change = await _ringChanges.NextOrSweepAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await SweepAsync(change, stoppingToken).ConfigureAwait(false);
        }
    }
}
