using SocketPush.Gossip;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster;

/// <summary>
/// Once a second: counts the standbys for the metric and, on a waiting standby, promotes it when the dead member
/// it is paired with (<see cref="StandbyChoice"/>) has been dead for <c>cluster.standbyAfter</c>. Each node times
/// the deaths it sees itself; the pairing is the same everywhere, so only the paired standby acts.
/// </summary>
internal sealed class StandbyPromotion(ClusterMembership membership, LiveConfig config, ClusterMetrics metrics, TimeProvider time, ILogger<StandbyPromotion> logger)
    : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    /// <summary>When this node first saw each member dead (timestamps of <see cref="TimeProvider"/>).</summary>
    private readonly Dictionary<string, long> _deadSince = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, time);
        try
        {
            do
            {
                await CheckAsync().ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The node stops.
        }
    }

    private async Task CheckAsync()
    {
        if (membership.Leaving || !membership.Started)
        {
            return;
        }

        var view = membership.View;
        metrics.StandbysSeen(view.Members.Count(m => m.IsLive && m.Metadata is { Standby: true }));
        var now = time.GetTimestamp();
        foreach (var member in view.Members)
        {
            if (member.State == MemberState.Dead)
            {
                _deadSince.TryAdd(member.Name, now);
            }
            else
            {
                _deadSince.Remove(member.Name);
            }
        }

        if (!membership.Standby.Waiting)
        {
            return;
        }

        var after = config.Current.Cluster.StandbyAfter;
        if (StandbyChoice.StandInFor(view.LocalId, view.Members, name => _deadSince.TryGetValue(name, out var since) ? time.GetElapsedTime(since) : TimeSpan.Zero, after) is { } dead)
        {
            ClusterLog.StandbyPromoted(logger, dead, after);
            metrics.StandbyPromoted();
            await membership.PromoteAsync(dead).ConfigureAwait(false);
        }
    }
}
