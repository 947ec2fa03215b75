using SocketPush.Client.Services;
using SocketPush.Node.Cluster;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Edge;

/// <summary>
/// Sends <c>moved</c> to the clients connected here whose user's owner is another node, so that they reconnect there:
/// a client that authenticated here although its user is owned elsewhere, and, after a ring change, the clients of
/// users whose owner moved away (this node leaving moves them all). Paced to <c>cluster.movedPerSecond</c> so that the
/// clients do not stampede; whether a client is still owned elsewhere is decided when its turn comes.
/// </summary>
internal sealed class ClientMover : BackgroundService
{
    private readonly ConnectionRegistry _registry;
    private readonly ClusterMembership _membership;
    private readonly ClusterRouter _router;
    private readonly EdgeMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ClientMover> _logger;
    private readonly PacedQueue<ClientConnection> _moves;

    public ClientMover(
        ConnectionRegistry registry,
        ClusterMembership membership,
        ClusterRouter router,
        LiveConfig config,
        EdgeMetrics metrics,
        TimeProvider time,
        ILogger<ClientMover> logger)
    {
        _registry = registry;
        _membership = membership;
        _router = router;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _moves = new PacedQueue<ClientConnection>(() => config.Current.Cluster.MovedPerSecond, Move, time);
    }

    /// <summary>Clients queued to be asked to move that have not been asked yet (a leave waits for them).</summary>
    public int Pending => _moves.Pending;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _registry.Added += OnAdded;
        return base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _registry.Added -= OnAdded;
        // What is still queued is not sent: the node is stopping, and its clients are closed with "reconnect allowed".
        _moves.Complete();
        return base.StopAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _moves.RunAsync(stoppingToken);

    /// <summary>Queues the clients of the users connected here whose owner changed between the views and is now another node.</summary>
    public void MoveToNewOwners(ClusterView before, ClusterView after)
    {
        var moved = 0;
        foreach (var userId in _registry.Users())
        {
            var key = Keys.User(userId);
            var newOwner = after.Owner(key);
            if (newOwner == before.Owner(key) || newOwner == after.LocalId)
            {
                continue;
            }

            foreach (var connection in _registry.ConnectionsOf(userId))
            {
                _moves.Enqueue(connection);
                moved++;
            }
        }

        if (moved > 0)
        {
            ClientLog.MovingClients(_logger, moved);
        }
    }

    /// <summary>A client that authenticated on a node that does not own its user is served here and told where to go.</summary>
    private void OnAdded(ClientConnection connection)
    {
        if (OwnerElsewhere(connection.UserId) is not null)
        {
            _moves.Enqueue(connection);
        }
    }

    private string? OwnerElsewhere(string userId)
    {
        var view = _membership.View;
        // Not routing, or a leaving node whose every other member is leaving too: nowhere to send a client.
        if (view.RingProblem is not null || view.Ring.NodeCount == 0)
        {
            return null;
        }

        var owner = view.Owner(Keys.User(userId));
        return owner == view.LocalId ? null : owner;
    }

    /// <summary>Asks a client to reconnect to its user's owner, if that is still another node; false when it was not asked.</summary>
    private bool Move(ClientConnection connection) => OwnerElsewhere(connection.UserId) is { } owner && TryMove(connection, owner);

    private bool TryMove(ClientConnection connection, string owner)
    {
        string url;
        try
        {
            url = _router.ClientUrlOf(owner);
        }
        catch (ServiceException)
        {
            return false;
        }

        if (connection.TrySend(PushMessage.Moved(url, owner, _time.GetTimestamp())) == SendResult.Refused)
        {
            return false;
        }

        _metrics.MovedSent();
        return true;
    }
}
