using System.Collections.Immutable;
using System.Text.Json;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Edge;

namespace SocketPush.Node.Owner;

/// <summary>
/// Delivery for users this node owns: their connections here, plus one batch to every other node that presence
/// says holds some of them (clients that did not follow a redirect, or a move in progress).
/// </summary>
internal sealed class OwnerFanOut(MessageDelivery delivery, PresenceTable presence, ClusterRouter router, TimeProvider time)
{
    public Task<int> ToOwnedUsersAsync(PushMessage message, ImmutableHashSet<string> users, CancellationToken cancellationToken)
    {
        var local = users.Count == 1 ? delivery.ToUser(message, users.First()) : delivery.ToUsers(message, users);
        if (!presence.AnyOnOtherNodes)
        {
            return Task.FromResult(local);
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

        return byNode.Count == 0 ? Task.FromResult(local) : WithRemoteAsync(local, message, byNode, cancellationToken);
    }

    /// <summary>Delivers a batch another node sent: as the users' owner (fan out by presence) or to local connections only.</summary>
    public Task<int> DeliverBatchAsync(JsonElement batch, CancellationToken cancellationToken)
    {
        var users = batch.GetProperty("users").EnumerateArray().Select(u => u.GetString()!).ToImmutableHashSet(StringComparer.Ordinal);
        var age = TimeSpan.FromMilliseconds(Math.Max(0, time.GetUtcNow().ToUnixTimeMilliseconds() - batch.GetProperty("publishedAt").GetInt64()));
        // Timestamps are per process; the publish time crosses nodes as wall time, so latency stays comparable.
        var publishedTimestamp = time.GetTimestamp() - (long)(age.TotalSeconds * time.TimestampFrequency);
        var channelId = batch.TryGetProperty("channelId", out var channel) && channel.ValueKind == JsonValueKind.String ? channel.GetString() : null;
        var message = new PushMessage(batch.GetProperty("kind").GetString()!, channelId, batch.GetProperty("data"), publishedTimestamp);
        return batch.GetProperty("owners").GetBoolean()
            ? ToOwnedUsersAsync(message, users, cancellationToken)
            : Task.FromResult(delivery.ToUsers(message, users));
    }

    public JsonElement Batch(PushMessage message, IEnumerable<string> users, bool ownersDeliver)
    {
        var age = time.GetElapsedTime(message.PublishedTimestamp);
        return JsonSerializer.SerializeToElement(new
        {
            kind = message.Kind,
            channelId = message.ChannelId,
            data = message.Data,
            publishedAt = time.GetUtcNow().ToUnixTimeMilliseconds() - (long)age.TotalMilliseconds,
            users,
            owners = ownersDeliver,
        });
    }

    private async Task<int> WithRemoteAsync(int local, PushMessage message, Dictionary<string, List<string>> byNode, CancellationToken cancellationToken)
    {
        var counts = await Task.WhenAll(byNode.Select(group =>
            router.OnNode<IEdgeService>(group.Key).DeliverAsync(Batch(message, group.Value, ownersDeliver: false), cancellationToken)));
        return local + counts.Sum();
    }
}
