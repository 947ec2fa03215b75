using MemoryPack;
using System.Threading.Channels;
using SocketPush.Client.Services;
using SocketPush.Node.Edge;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner;

namespace SocketPush.Node.Cluster;

/// <summary>
/// Keeps this node's part of the cluster in order as members come and go: tells the owners of its users where their
/// connections are (presence), hands records to the nodes that own them now and drops them once those acknowledged,
/// and asks clients whose user moved to reconnect to the new owner (<c>moved</c>), paced so that they do not stampede.
/// </summary>
internal sealed class ClusterCoordinator : IAsyncDisposable
{
    /// <summary>Records per handoff message; a batch stays well within what one peer call should carry.</summary>
    internal const int HandoffBatch = 500;

    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(2);
    /// <summary>How often a leave looks again whether everything is handed over and every client asked to move.</summary>
    private static readonly TimeSpan LeaveCheck = TimeSpan.FromMilliseconds(100);

    private readonly ClusterMembership _membership;
    private readonly ClusterRouter _router;
    private readonly RecordStore _store;
    private readonly PresenceTable _presence;
    private readonly MissingCopies _missing;
    private readonly ConnectionRegistry _registry;
    private readonly HybridClock _clock;
    private readonly LiveConfig _config;
    private readonly ClusterMetrics _metrics;
    private readonly EdgeMetrics _edgeMetrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ClusterCoordinator> _logger;
    private readonly Channel<(ClusterView Before, ClusterView After)> _ringChanges = Channel.CreateUnbounded<(ClusterView, ClusterView)>();
    private readonly PacedQueue<ClientConnection> _moves;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _sweeper;
    private readonly Task _mover;
    private int _disposed;
    private volatile bool _leaving;

    public ClusterCoordinator(
        ClusterMembership membership,
        ClusterRouter router,
        RecordStore store,
        PresenceTable presence,
        MissingCopies missing,
        ConnectionRegistry registry,
        HybridClock clock,
        LiveConfig config,
        ClusterMetrics metrics,
        EdgeMetrics edgeMetrics,
        TimeProvider time,
        ILogger<ClusterCoordinator> logger)
    {
        _membership = membership;
        _router = router;
        _store = store;
        _presence = presence;
        _missing = missing;
        _registry = registry;
        _clock = clock;
        _config = config;
        _metrics = metrics;
        _edgeMetrics = edgeMetrics;
        _time = time;
        _logger = logger;
        _moves = new PacedQueue<ClientConnection>(() => config.Current.Cluster.MovedPerSecond, Move, time);
        registry.UserOnline += OnUserOnline;
        registry.UserOffline += OnUserOffline;
        registry.Added += OnAdded;
        membership.RingChanged += OnRingChanged;
        membership.MemberGone += presence.DropNode;
        _sweeper = Task.Run(SweepLoopAsync);
        _mover = Task.Run(() => _moves.RunAsync(_stopping.Token));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _registry.UserOnline -= OnUserOnline;
        _registry.UserOffline -= OnUserOffline;
        _registry.Added -= OnAdded;
        _membership.RingChanged -= OnRingChanged;
        _membership.MemberGone -= _presence.DropNode;
        await _stopping.CancelAsync();
        _ringChanges.Writer.TryComplete();
        _moves.Complete();
        await Task.WhenAll(_sweeper, _mover).ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>
    /// A graceful leave (SIGTERM, Ctrl+C, disposing the host), within <c>cluster.leaveTimeout</c>: this node takes
    /// itself out of its own ring, so that the handoff sends every record to the replicas that hold it without this
    /// node, and its clients are asked (paced) to move to their users' owners; it waits for them to go (keeping a
    /// second of the time for what follows), then gossip announces the departure with what time is left. A leave
    /// that runs out of time goes on anyway and says what it did not hand over and which clients are still here.
    /// </summary>
    public async Task LeaveAsync()
    {
        var timeout = _config.Current.Cluster.LeaveTimeout;
        using var deadline = new CancellationTokenSource(timeout, _time);
        if (!_membership.View.HasOthers)
        {
            // Alone: nobody to hand anything to.
            await _membership.LeaveAsync(deadline.Token).ConfigureAwait(false);
            return;
        }

        var started = _time.GetTimestamp();
        var held = _store.LiveCounts();
        _leaving = true;
        var before = _membership.View;
        await _membership.BeginLeavingAsync().ConfigureAwait(false);
        // Here rather than on the sweep loop, so that the moves are queued before the loop below looks at them.
        FollowRingChange(before, _membership.View);
        try
        {
            // Until everything is handed over and every client asked to move, or nobody is left to take anything
            // (the whole cluster stopping at once).
            while ((!_store.IsEmpty || _moves.Pending > 0) && _membership.View.HasOthers)
            {
                await HandOffAsync(deadline.Token).ConfigureAwait(false);
                if (_store.IsEmpty && _moves.Pending == 0)
                {
                    break;
                }

                await Task.Delay(LeaveCheck, _time, deadline.Token).ConfigureAwait(false);
            }

            await WaitForClientsToGoAsync(timeout - GossipReserve(timeout) - _time.GetElapsedTime(started)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Out of time: what is left is reported below.
        }

        var left = _store.LiveCounts();
        var gossiped = await _membership.LeaveAsync(deadline.Token).ConfigureAwait(false);
#pragma warning disable CA1873 // Once per process: the figures are the point of the line.
        ClusterLog.Left(
            _logger,
            held.Users + held.Sessions + held.Channels,
            left.Users + left.Sessions + left.Channels,
            _moves.Pending,
            _registry.All().Count(),
            gossiped,
            _time.GetElapsedTime(started));
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

        using var clientsDeadline = new CancellationTokenSource(limit, _time);
        try
        {
            while (_registry.All().Any() && _membership.View.HasOthers)
            {
                await Task.Delay(LeaveCheck, _time, clientsDeadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Those still here are closed with "reconnect allowed" when the node stops; the departure is gossiped first.
        }
    }

    /// <summary>Records held here that another node owns now (read by manager.status).</summary>
    public int PendingHandoff { get; private set; }

    private void OnUserOnline(string userId) => Report(userId, online: true);

    private void OnUserOffline(string userId) => Report(userId, online: false);

    /// <summary>A client that authenticated on a node that does not own its user is served here and told where to go.</summary>
    private void OnAdded(ClientConnection connection)
    {
        if (OwnerElsewhere(connection.UserId) is not null)
        {
            _moves.Enqueue(connection);
        }
    }

    private void Report(string userId, bool online)
    {
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

    /// <summary>On the gossip loop, which must not wait for peers: the work goes to the sweep loop.</summary>
    private void OnRingChanged(ClusterView before, ClusterView after)
    {
        // While leaving, every key is elsewhere already; later changes only reshuffle among the others.
        if (!_leaving)
        {
            _ringChanges.Writer.TryWrite((before, after));
        }
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
            var next = _missing.Next(HandoffBatch).Where(n => !failed.Contains(n.Key)).ToList();
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

                if ((await SendAsync(owed.Key, batch, handoff: false, cancellationToken).ConfigureAwait(false)).Acknowledged)
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

    /// <summary>Users whose owner moved: the new owner hears of their connections here, and clients not owned here move.</summary>
    private void FollowRingChange(ClusterView before, ClusterView after)
    {
        var moved = 0;
        foreach (var userId in _registry.Users())
        {
            var key = Keys.User(userId);
            var newOwner = after.Owner(key);
            if (newOwner == before.Owner(key))
            {
                continue;
            }

            // The new owner learns where this user's connections are before their clients move there.
            Report(userId, _registry.IsOnline(userId));
            if (newOwner != after.LocalId)
            {
                foreach (var connection in _registry.ConnectionsOf(userId))
                {
                    _moves.Enqueue(connection);
                    moved++;
                }
            }
        }

        if (moved > 0)
        {
            ClusterLog.MovingClients(_logger, moved);
        }
    }

    private string? OwnerElsewhere(string userId)
    {
        var view = _membership.View;
        if (view.RingProblem is not null)
        {
            return null;
        }

        var owner = view.Owner(Keys.User(userId));
        return owner == view.LocalId ? null : owner;
    }

    private async Task SweepLoopAsync()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                using var tick = new CancellationTokenSource(SweepInterval, _time);
                using var wake = CancellationTokenSource.CreateLinkedTokenSource(tick.Token, token);
                var (before, after) = await _ringChanges.Reader.ReadAsync(wake.Token).ConfigureAwait(false);
                FollowRingChange(before, after);
                OweGainedReplicas(before, after);
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                // The periodic sweep: records written here on a stale ring also find their owner.
            }
            catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
            {
                return;
            }

            await HandOffAsync(token).ConfigureAwait(false);
            await RepairAsync(token).ConfigureAwait(false);
        }
    }

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

            var sent = await Task.WhenAll(batches.Select(b => SendAsync(b.Key, b.Value, handoff: true, cancellationToken))).ConfigureAwait(false);
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

    /// <param name="node">Where to.</param>
    /// <param name="batch">What.</param>
    /// <param name="handoff">A handoff (counted as such), or a copy a replica is owed.</param>
    /// <param name="cancellationToken">Stopping, or the end of a leave.</param>
    private async Task<(RecordBatch Batch, bool Acknowledged)> SendAsync(string node, RecordBatch batch, bool handoff, CancellationToken cancellationToken)
    {
        var why = handoff ? "handoff" : "owed copies";
        try
        {
            await _router.AskAsync(node, new RecordsMerge(batch), cancellationToken).ConfigureAwait(false);
            if (handoff)
            {
                _metrics.HandedOff(batch.Count, MemoryPackSerializer.Serialize(batch).Length);
            }

            ClusterLog.HandedOff(_logger, batch.Count, node, why);
            return (batch, true);
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

        _edgeMetrics.MovedSent();
        return true;
    }
}
