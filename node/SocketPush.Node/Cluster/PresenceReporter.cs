using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Owner;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Cluster;

/// <summary>
/// Tells the owner of each user connected here that the user has connections here, and when the last one closed, so
/// that a publish to the user reaches this node. After a ring change the users' new owners are told first, then the
/// edge asks the clients whose user moved to reconnect there: a client arriving at its new owner is already known
/// to be here too. What a member that is gone reported to this node is forgotten.
/// </summary>
internal sealed class PresenceReporter : BackgroundService
{
    private readonly ILocalConnections _local;
    private readonly ClusterMembership _membership;
    private readonly ClusterRouter _router;
    private readonly HybridClock _clock;
    private readonly PresenceTable _presence;
    private readonly ILogger<PresenceReporter> _logger;
    private readonly RingChangeQueue _ringChanges;

    public PresenceReporter(
        ILocalConnections local,
        ClusterMembership membership,
        ClusterRouter router,
        HybridClock clock,
        PresenceTable presence,
        TimeProvider time,
        ILogger<PresenceReporter> logger)
    {
        _local = local;
        _membership = membership;
        _router = router;
        _clock = clock;
        _presence = presence;
        _logger = logger;
        _ringChanges = new RingChangeQueue(membership, time);
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _local.UserOnline += OnUserOnline;
        _local.UserOffline += OnUserOffline;
        _membership.MemberGone += _presence.DropNode;
        _ringChanges.Follow();
        return base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _ringChanges.Unfollow();
        _membership.MemberGone -= _presence.DropNode;
        _local.UserOffline -= OnUserOffline;
        _local.UserOnline -= OnUserOnline;
        return base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var change in _ringChanges.AllAsync(stoppingToken).ConfigureAwait(false))
            {
                FollowOwnerChanges(change.Before, change.After);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// The users connected here whose owner changed between the views: their new owners learn where the connections
    /// are, then the clients not owned here any more are asked to move (queued before this returns).
    /// </summary>
    public void FollowOwnerChanges(ClusterView before, ClusterView after)
    {
        if (after.Ring.NodeCount == 0)
        {
            // A leaving node whose every other member is leaving too: no owner to tell, no node to move clients to.
            return;
        }

        foreach (var userId in _local.Users())
        {
            var key = Keys.User(userId);
            if (after.Owner(key) != before.Owner(key))
            {
                Report(userId, _local.IsOnline(userId));
            }
        }

        _local.MoveClientsToNewOwners(before, after);
    }

    private void OnUserOnline(string userId) => Report(userId, online: true);

    private void OnUserOffline(string userId) => Report(userId, online: false);

    private void Report(string userId, bool online)
    {
        if (_membership.Leaving && !_membership.View.HasOthers)
        {
            // The cluster is stopping as a whole (the clients closing as this node stops): no owner is left to tell.
            return;
        }

        Task task;
        try
        {
            task = _router.AskOwnerAsync(Keys.User(userId), new RecordsSetPresence(userId, _router.LocalId, online, _clock.Now()), CancellationToken.None);
        }
        catch (ServiceException e)
        {
            ClusterLog.PresenceReportFailed(_logger, userId, e.Message);
            return;
        }

        if (!task.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(task, userId);
        }
    }

    private async Task ObserveAsync(Task task, string userId)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (ServiceException e)
        {
            ClusterLog.PresenceReportFailed(_logger, userId, e.Message);
        }
    }
}
