using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster.Routing;

/// <summary>
/// Finds who answers for a key or a node and runs a typed request there: on this node directly, or through a peer
/// call. A single node is a ring of one, so everything is local.
/// </summary>
internal sealed class ClusterRouter(
    ClusterMembership membership, PeerLinks links, PeerHandlers handlers, NodeIdentity identity, LiveConfig config, ClusterMetrics metrics, TimeProvider time)
{
    public ClusterView View => membership.View;

    public string LocalId => membership.View.LocalId;

    /// <summary>The node that owns <paramref name="key"/>; <c>unavailable</c> while the ring settings of the members differ.</summary>
    public string OwnerOf(string key)
    {
        var view = membership.View;
        if (view.RingProblem is { } problem)
        {
            throw new ServiceException(ErrorCodes.Unavailable, $"This node does not route while the {problem}.");
        }

        if (view.Ring.IsEmpty)
        {
            throw new ServiceException(ErrorCodes.Unavailable, "No active node is left to answer: this node is leaving, or is a standby and every active member is gone.");
        }

        return view.Owner(key);
    }

    /// <summary>
    /// Runs a request on the owner of <paramref name="key"/>: here, or on the node a peer call reaches. A call that
    /// already crossed <see cref="Forwarding.MaxHops"/> nodes runs here.
    /// </summary>
    public Task<TResult> AskOwnerAsync<TResult>(string key, PeerRequest<TResult> request, CancellationToken cancellationToken) =>
        AskOwnerAsync(key, local => request.RunAsync(local, cancellationToken), () => request, cancellationToken);

    /// <summary>
    /// As <see cref="AskOwnerAsync{TResult}(string, PeerRequest{TResult}, CancellationToken)"/>, for a call that should not be built as a request when it stays here
    /// (a publish, whose message would be copied for nothing).
    /// </summary>
    public Task<TResult> AskOwnerAsync<TResult>(
        string key, Func<PeerHandlers, Task<TResult>> here, Func<PeerRequest<TResult>> elsewhere, CancellationToken cancellationToken)
    {
        var owner = OwnerOf(key);
        return IsHere(owner) ? here(handlers) : links.CallAsync(owner, elsewhere(), Forwarding.Hops + 1, cancellationToken);
    }

    /// <summary>
    /// As <see cref="AskOwnerAsync{TResult}(string, Func{PeerHandlers, Task{TResult}}, Func{PeerRequest{TResult}}, CancellationToken)"/>,
    /// for a publish: when the owner stops answering (or the ring names another owner first), the call waits for
    /// the failure detector to name a new owner and goes there, within <c>cluster.publishTimeout</c>, instead of
    /// failing at the request timeout. The request carries its publish id, so a stream appends it once.
    /// </summary>
    public async Task<TResult> AskOwnerWithFailoverAsync<TResult>(
        string key, Func<PeerHandlers, Task<TResult>> here, Func<PeerRequest<TResult>> elsewhere, CancellationToken cancellationToken)
    {
        var deadline = TimestampAfter(config.Current.Cluster.PublishTimeout);
        while (true)
        {
            var owner = OwnerOf(key);
            if (IsHere(owner))
            {
                ServiceException refused;
                try
                {
                    return await here(handlers).ConfigureAwait(false);
                }
                catch (ServiceException e) when (e.Code == ErrorCodes.Unavailable)
                {
                    refused = e;
                }

                await ThrowUnlessMovedAsync(refused, key, owner, cancellationToken).ConfigureAwait(false);
                metrics.PublishFailedOver();
                continue;
            }

            var call = links.CallAsync(owner, elsewhere(), Forwarding.Hops + 1, cancellationToken);
            while (true)
            {
                // The answer, or a ring that moves the key first (a frozen owner answers nothing until the request
                // timeout). Read before the view: a change after the check completes it.
                var ringChange = _ringChanges.Next;
                if (OwnerIsNot(membership.View, key, owner))
                {
                    // The abandoned call may still land; the stream appends its publish id once.
                    _ = call.ContinueWith(static t => t.Exception, TaskScheduler.Default);
                    break;
                }

                if (await Task.WhenAny(call, ringChange).ConfigureAwait(false) != call)
                {
                    continue;
                }

                ServiceException? answered = null;
                try
                {
                    return await call.ConfigureAwait(false);
                }
                catch (ServiceException e) when (e is not PeerUnreachableException && e.Code == ErrorCodes.Unavailable)
                {
                    answered = e;
                }
                catch (PeerUnreachableException e) when (!cancellationToken.IsCancellationRequested)
                {
                    // No answer from the owner: whether it is dead is the failure detector's call; wait for it. One
                    // that took the call and did not answer in time may only be slow, or behind the ring (it forwarded
                    // to a node it still took for the owner): after a moment it is asked again (a publish carries its
                    // id, a read reads). One whose link is lost or full is not asked again before the ring moves.
                    // Asked again only if the next call can time out before the deadline, which bounds the whole wait.
                    var retryAt = e.TimedOut && TimestampAfter(RetryPause + config.Current.Cluster.RequestTimeout) <= deadline ? TimestampAfter(RetryPause) : deadline;
                    if (!await OwnerMovedAsync(key, owner, retryAt, cancellationToken).ConfigureAwait(false) && time.GetTimestamp() >= deadline)
                    {
                        throw;
                    }

                    break;
                }

                await ThrowUnlessMovedAsync(answered!, key, owner, cancellationToken).ConfigureAwait(false);
                break;
            }

            if (!OwnerIsNot(membership.View, key, owner))
            {
                continue;
            }

            metrics.PublishFailedOver();
        }
    }

    /// <summary>
    /// Rethrows an owner's <c>unavailable</c> unless it came from a ring that moved the key away (the owner refuses to
    /// write a stream it no longer owns, or its quorum failed as the ring changed): the call then goes to the new
    /// owner. The ring of this node may hear of the move a moment after the owner's: it is given <see cref="RetryPause"/> to.
    /// </summary>
    private async Task ThrowUnlessMovedAsync(ServiceException refused, string key, string owner, CancellationToken cancellationToken)
    {
        if (!await OwnerMovedAsync(key, owner, TimestampAfter(RetryPause), cancellationToken).ConfigureAwait(false))
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(refused);
        }
    }

    /// <summary>The clock's timestamp <paramref name="wait"/> from now.</summary>
    private long TimestampAfter(TimeSpan wait) => time.GetTimestamp() + (long)(wait.TotalSeconds * time.TimestampFrequency);

    /// <summary>How long a call whose owner did not answer waits for the ring to move before it asks again.</summary>
    private static readonly TimeSpan RetryPause = TimeSpan.FromSeconds(1);

    /// <summary>Completes at the ring's next change: one task for every waiting publish, not a subscription each.</summary>
    private readonly RingChanges _ringChanges = new(membership);

    /// <summary>True once the ring names another owner of <paramref name="key"/> than <paramref name="owner"/>; false at the deadline.</summary>
    private async Task<bool> OwnerMovedAsync(string key, string owner, long deadline, CancellationToken cancellationToken)
    {
        while (true)
        {
            var ringChange = _ringChanges.Next;
            if (OwnerIsNot(membership.View, key, owner))
            {
                return true;
            }

            var remaining = deadline - time.GetTimestamp();
            if (remaining <= 0 || cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            try
            {
                await ringChange.WaitAsync(TimeSpan.FromSeconds(remaining / (double)time.TimestampFrequency), time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                return false;
            }
        }
    }

    private static bool OwnerIsNot(ClusterView view, string key, string owner) =>
        view.RingProblem is null && !view.Ring.IsEmpty && view.Owner(key) != owner;

    /// <summary>Runs a request on one node, this one included.</summary>
    public Task<TResult> AskAsync<TResult>(string nodeId, PeerRequest<TResult> request, CancellationToken cancellationToken) =>
        nodeId == LocalId ? request.RunAsync(handlers, cancellationToken) : links.CallAsync(nodeId, request, Forwarding.Hops + 1, cancellationToken);

    /// <summary>Every node of the ring, this one included.</summary>
    public IReadOnlyList<string> Nodes => membership.View.Ring.Nodes;

    /// <summary>Asks every node of the ring and merges the answers, sorted; one node that cannot answer fails the call.</summary>
    public async Task<IReadOnlyList<string>> UnionAsync(PeerRequest<string[]> request, CancellationToken cancellationToken)
    {
        var answers = await Task.WhenAll(Nodes.Select(n => AskAsync(n, request, cancellationToken))).ConfigureAwait(false);
        return [.. answers.SelectMany(a => a).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    /// <summary>The client URL a node advertises (its gossip metadata); this node's own without asking gossip.</summary>
    public string ClientUrlOf(string nodeId) =>
        nodeId == LocalId ? identity.ClientUrl
        : membership.View.Member(nodeId)?.Metadata?.ClientUrl
          ?? throw new ServiceException(ErrorCodes.Unavailable, $"Node {nodeId} has not told the cluster its client URL yet.");

    private bool IsHere(string owner) => owner == LocalId || Forwarding.Hops >= Forwarding.MaxHops;
}

/// <summary>A task that completes at the ring's next change, shared by every waiter and replaced on each change.</summary>
internal sealed class RingChanges
{
    private TaskCompletionSource _next = New();

    public RingChanges(ClusterMembership membership) =>
        membership.RingChanged += (_, _) => Interlocked.Exchange(ref _next, New()).TrySetResult();

    public Task Next => Volatile.Read(ref _next).Task;

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
