using System.Collections.Immutable;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Owner;

/// <summary>
/// Who receives a publish, grouped by node. A user's publication goes to the user's connections here plus one batch
/// to every other node that presence says holds some of them (clients that did not follow a redirect, or a move in
/// progress); a channel's goes, per subscriber, to the node that owns the subscriber's user, which fans out the same
/// way for the users it owns.
/// </summary>
internal sealed class OwnerFanOut(ILocalConnections local, PresenceTable presence, ClusterRouter router, TimeProvider time)
{
    /// <summary>Delivers to users this node owns; returns the connections reached.</summary>
    public Task<int> ToOwnedUsersAsync(Publication publication, IReadOnlyCollection<string> users, CancellationToken cancellationToken)
    {
        var here = local.Deliver(publication, users);
        if (!presence.AnyOnOtherNodes)
        {
            return Task.FromResult(here);
        }

        var byNode = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var userId in users)
        {
            foreach (var node in presence.OtherNodesOf(userId))
            {
                if (!byNode.TryGetValue(node, out var list))
                {
                    byNode[node] = list = [];
                }

                list.Add(userId);
            }
        }

        return byNode.Count == 0 ? Task.FromResult(here) : WithOtherNodesAsync(here, publication, byNode, ownersDeliver: false, cancellationToken);
    }

    /// <summary>Delivers a channel's publication to its subscribers through the owners of their users; returns the connections reached.</summary>
    public async Task<int> ToSubscribersAsync(Publication publication, ImmutableHashSet<string> subscribers, CancellationToken cancellationToken)
    {
        if (router.Nodes.Count == 1)
        {
            return await ToOwnedUsersAsync(publication, subscribers, cancellationToken).ConfigureAwait(false);
        }

        var byNode = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var userId in subscribers)
        {
            var owner = router.OwnerOf(Keys.User(userId));
            if (!byNode.TryGetValue(owner, out var users))
            {
                byNode[owner] = users = [];
            }

            users.Add(userId);
        }

        var here = byNode.Remove(router.LocalId, out var owned) ? await ToOwnedUsersAsync(publication, owned, cancellationToken).ConfigureAwait(false) : 0;
        return byNode.Count == 0 ? here : await WithOtherNodesAsync(here, publication, byNode, ownersDeliver: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Delivers a batch another node sent: as the users' owner (fan out by presence) or to local connections only.</summary>
    public Task<int> DeliverAsync(EdgeDeliver delivery, CancellationToken cancellationToken)
    {
        var age = TimeSpan.FromMilliseconds(Math.Max(0, time.GetUtcNow().ToUnixTimeMilliseconds() - delivery.PublishedAtUnixMs));
        // Timestamps are per process; the publish time crosses nodes as wall time, so latency stays comparable.
        var publishedTimestamp = time.GetTimestamp() - (long)(age.TotalSeconds * time.TimestampFrequency);
        var publication = new Publication(delivery.Kind, delivery.ChannelId, PeerJson.Read(delivery.Data), publishedTimestamp, delivery.Position);
        var users = delivery.Users.ToImmutableHashSet(StringComparer.Ordinal);
        return delivery.OwnersDeliver
            ? ToOwnedUsersAsync(publication, users, cancellationToken)
            : Task.FromResult(local.Deliver(publication, users));
    }

    private async Task<int> WithOtherNodesAsync(int here, Publication publication, Dictionary<string, List<string>> byNode, bool ownersDeliver, CancellationToken cancellationToken)
    {
        var data = PeerJson.Write(publication.Data);
        var publishedAt = time.GetUtcNow().ToUnixTimeMilliseconds() - (long)time.GetElapsedTime(publication.PublishedTimestamp).TotalMilliseconds;
        var counts = await Task.WhenAll(byNode.Select(group => DeliverToAsync(
            group.Key,
            new EdgeDeliver(publication.Kind, publication.ChannelId, data, publishedAt, [.. group.Value], ownersDeliver, publication.Position?.Epoch, publication.Position?.Offset ?? 0),
            cancellationToken))).ConfigureAwait(false);
        return here + counts.Sum();
    }

    /// <summary>
    /// One node's batch. A stream's message is in its history already: a node that cannot take it (it died, its
    /// link dropped) costs its clients nothing they cannot recover, so it counts as no connection reached rather
    /// than failing the publish. Without history, the publish fails with the node's error, for the backend to see.
    /// </summary>
    private async Task<int> DeliverToAsync(string node, EdgeDeliver batch, CancellationToken cancellationToken)
    {
        try
        {
            return await router.AskAsync(node, batch, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketPush.Client.Services.ServiceException) when (batch.Epoch is not null)
        {
            _ = ResendAsync(node, batch);
            return 0;
        }
    }

    /// <summary>Waits before each new attempt of a batch a node did not take.</summary>
    private static readonly TimeSpan[] ResendWaits = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)];

    /// <summary>
    /// A batch of a stream's message that a node did not take (its answer timed out, its link dropped) goes again a
    /// few times while the node is in the ring: its connections drop a position they have already. Without it, the
    /// clients there would miss a stream's last messages until its next one, which starts a gap fill.
    /// </summary>
    private async Task ResendAsync(string node, EdgeDeliver batch)
    {
        foreach (var wait in ResendWaits)
        {
            await Task.Delay(wait, time).ConfigureAwait(false);
            if (!router.Nodes.Contains(node, StringComparer.Ordinal))
            {
                return;
            }

            try
            {
                await router.AskAsync(node, batch, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            catch (SocketPush.Client.Services.ServiceException)
            {
                // Not taken again: the next wait, then one more attempt.
            }
        }
    }
}
