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
            throw new ServiceException(ErrorCodes.Unavailable, "This node is leaving and no other node is left to answer.");
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
        var deadline = time.GetTimestamp() + (long)(config.Current.Cluster.PublishTimeout.TotalSeconds * time.TimestampFrequency);
        while (true)
        {
            var owner = OwnerOf(key);
            if (IsHere(owner))
            {
                return await here(handlers).ConfigureAwait(false);
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            try
            {
                var call = links.CallAsync(owner, elsewhere(), Forwarding.Hops + 1, cancellationToken);
                var moved = OwnerMovedAsync(key, owner, deadline, stop.Token);
                if (await Task.WhenAny(call, moved).ConfigureAwait(false) == call)
                {
                    try
                    {
                        return await call.ConfigureAwait(false);
                    }
                    catch (PeerUnreachableException) when (!cancellationToken.IsCancellationRequested)
                    {
                        // No answer from the owner: whether it is dead is the failure detector's call; wait for it.
                        if (!await moved.ConfigureAwait(false))
                        {
                            throw;
                        }
                    }
                }
                else if (!await moved.ConfigureAwait(false))
                {
                    // The deadline came with the owner still in the ring: the call's own answer or timeout decides.
                    return await call.ConfigureAwait(false);
                }
                else
                {
                    // The ring moved the key while the call was on its way; the abandoned call may still land, and
                    // the stream appends its publish id once.
                    _ = call.ContinueWith(static t => t.Exception, TaskScheduler.Default);
                }
            }
            finally
            {
                // Ends the wait for a new owner when the call answered first.
                await stop.CancelAsync().ConfigureAwait(false);
            }

            metrics.PublishFailedOver();
        }
    }

    /// <summary>True once the ring names another owner of <paramref name="key"/> than <paramref name="owner"/>; false at the deadline.</summary>
    private async Task<bool> OwnerMovedAsync(string key, string owner, long deadline, CancellationToken cancellationToken)
    {
        var moved = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnRingChanged(ClusterView before, ClusterView after)
        {
            if (OwnerIsNot(after, key, owner))
            {
                moved.TrySetResult(true);
            }
        }

        membership.RingChanged += OnRingChanged;
        try
        {
            if (OwnerIsNot(membership.View, key, owner))
            {
                return true;
            }

            var remaining = TimeSpan.FromSeconds(Math.Max(0, deadline - time.GetTimestamp()) / (double)time.TimestampFrequency);
            await using var timer = time.CreateTimer(_ => moved.TrySetResult(false), null, remaining, Timeout.InfiniteTimeSpan);
            await using var cancel = cancellationToken.Register(() => moved.TrySetResult(false));
            return await moved.Task.ConfigureAwait(false);
        }
        finally
        {
            membership.RingChanged -= OnRingChanged;
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
