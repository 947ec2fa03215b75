using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Cluster;

/// <summary>
/// This node's graceful leave (SIGTERM, Ctrl+C, disposing the host), within <c>cluster.leaveTimeout</c>: this node
/// takes itself out of its own ring, so that the handoff sends every record to the replicas that hold it without this
/// node, and its clients are asked (paced) to move to their users' owners; it waits for them to go (keeping a second
/// of the time for what follows), then gossip announces the departure with what time is left. A leave that runs out
/// of time goes on anyway and says what it did not hand over and which clients are still here.
/// </summary>
internal sealed class GracefulLeave(
    ClusterMembership membership,
    HandoffSender handoff,
    PresenceReporter presence,
    ILocalConnections local,
    RecordStore store,
    LiveConfig config,
    TimeProvider time,
    ILogger<GracefulLeave> logger)
{
    /// <summary>How often a leave looks again whether everything is handed over and every client asked to move.</summary>
    private static readonly TimeSpan LeaveCheck = TimeSpan.FromMilliseconds(100);

    private readonly Lock _gate = new();
    private Task? _leaving;

    /// <summary>Leaves the first time; later calls (the host may be stopped more than once) wait for the same leave.</summary>
    public Task LeaveAsync()
    {
        lock (_gate)
        {
            return _leaving ??= LeaveOnceAsync();
        }
    }

    private async Task LeaveOnceAsync()
    {
        var timeout = config.Current.Cluster.LeaveTimeout;
        using var deadline = new CancellationTokenSource(timeout, time);
        if (!membership.View.HasOthers)
        {
            // Alone: nobody to hand anything to.
            await membership.LeaveAsync(deadline.Token).ConfigureAwait(false);
            return;
        }

        var started = time.GetTimestamp();
        var held = store.LiveCounts();
        var before = membership.View;
        await membership.BeginLeavingAsync().ConfigureAwait(false);
        // Here rather than on the presence reporter's loop (which skips the changes of a leave), so that the moves are
        // queued before the loop below looks at them.
        presence.FollowOwnerChanges(before, membership.View);
        try
        {
            // Until everything is handed over and every client asked to move, or nobody is left to take anything
            // (the whole cluster stopping at once).
            while ((!store.IsEmpty || local.MovesPending > 0) && membership.View.HasOthers)
            {
                await handoff.HandOffAsync(deadline.Token).ConfigureAwait(false);
                if (store.IsEmpty && local.MovesPending == 0)
                {
                    break;
                }

                await Task.Delay(LeaveCheck, time, deadline.Token).ConfigureAwait(false);
            }

            await WaitForClientsToGoAsync(timeout - GossipReserve(timeout) - time.GetElapsedTime(started)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Out of time: what is left is reported below.
        }

        var left = store.LiveCounts();
        var gossiped = await membership.LeaveAsync(deadline.Token).ConfigureAwait(false);
#pragma warning disable CA1873 // Once per process: the figures are the point of the line.
        ClusterLog.Left(
            logger,
            held.Users + held.Sessions + held.Channels,
            left.Users + left.Sessions + left.Channels,
            local.MovesPending,
            local.Count,
            gossiped,
            time.GetElapsedTime(started));
#pragma warning restore CA1873
    }

    /// <summary>
    /// The part of a leave's time kept for gossiping the departure after the clients went: a second, or half the leave
    /// timeout when that is shorter.
    /// </summary>
    private static TimeSpan GossipReserve(TimeSpan timeout) => TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, timeout.Ticks / 2));

    /// <summary>
    /// Waits, at most <paramref name="limit"/>, until the clients asked to move have closed their connections here
    /// (a client closes its old connection once it is connected to its user's owner): until then this node still
    /// delivers to them, and the owners' presence still names it. Clients that stay are closed when the node stops.
    /// </summary>
    private async Task WaitForClientsToGoAsync(TimeSpan limit)
    {
        if (limit <= TimeSpan.Zero)
        {
            return;
        }

        using var clientsDeadline = new CancellationTokenSource(limit, time);
        try
        {
            while (local.Count > 0 && membership.View.HasOthers)
            {
                await Task.Delay(LeaveCheck, time, clientsDeadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Those still here are closed with "reconnect allowed" when the node stops; the departure is gossiped first.
        }
    }
}
