using System.Reflection;
using MemoryPack;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Tests;

/// <summary>Three nodes, two replicas per key: a node that is no replica of a key must never receive its record.</summary>
public sealed class TwoReplicaClusterFixture : ThreeNodeClusterFixture
{
    private protected override void Configure(NodeConfig config) => config.Cluster.Replicas = 2;
}

/// <summary>The owner's one write path: every kind of write reaches the key's replicas without its caller asking.</summary>
public sealed class OwnerWriteTests(TwoReplicaClusterFixture fixture) : IClassFixture<TwoReplicaClusterFixture>
{
    /// <summary>
    /// Each write of <see cref="OwnerRecords"/>, by name: the key it writes, and the write as its caller makes it. A
    /// conditional write first makes its condition true (awaited), so that it changes what the replicas hold.
    /// </summary>
    private static readonly Dictionary<string, (Func<string, string> Key, Func<OwnerRecords, string, Task> Write)> Writes = new()
    {
        [nameof(OwnerRecords.SetSession)] = (Keys.User, (w, id) => w.SetSession(id, "s-" + id).Replicated),
        [nameof(OwnerRecords.ClearSessionIf)] = (Keys.User, async (w, id) =>
        {
            await w.SetSession(id, "s-" + id).Replicated;
            await w.ClearSessionIf(id, "s-" + id);
        }),
        [nameof(OwnerRecords.BindSession)] = (Keys.Session, (w, id) => w.BindSession(id, "u-" + id).Replicated),
        [nameof(OwnerRecords.UnbindSessionIf)] = (Keys.Session, async (w, id) =>
        {
            await w.BindSession(id, "u-" + id).Replicated;
            await w.UnbindSessionIf(id, "u-" + id);
        }),
        [nameof(OwnerRecords.TrySubscribe)] = (Keys.User, (w, id) => w.TrySubscribe(id, "c-" + id, max: 0).Replicated),
        [nameof(OwnerRecords.Unsubscribe)] = (Keys.User, (w, id) => w.Unsubscribe(id, "c-" + id)),
        [nameof(OwnerRecords.ClearSubscriptions)] = (Keys.User, async (w, id) =>
        {
            await w.TrySubscribe(id, "c-" + id, max: 0).Replicated;
            await w.ClearSubscriptions(id).Replicated;
        }),
        [nameof(OwnerRecords.SetSubscriber)] = (Keys.Channel, (w, id) => w.SetSubscriber(id, "u-" + id, subscribed: true)),
    };

    [Fact]
    public void Every_write_of_the_owner_is_covered_here()
    {
        var writes = typeof(OwnerRecords).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => m.ReturnType == typeof(Task) || (m.ReturnType.IsGenericType && m.ReturnType.GetGenericTypeDefinition() == typeof(Written<>)))
            .Select(m => m.Name);
        Assert.Equal(writes.Order(StringComparer.Ordinal), Writes.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_write_of_each_kind_reaches_every_replica_of_its_key_and_no_other_node()
    {
        var cluster = fixture.Cluster;
        var random = new Random(2121);
        foreach (var (name, write) in Writes)
        {
            // Ids spread over the ring, so that each write lands on owners and replica sets of every shape.
            for (var i = 0; i < 12; i++)
            {
                var id = $"w{name}-{random.Next(1_000_000)}";
                var key = write.Key(id);
                var owner = cluster.OwnerOf(key);
                await write.Write(owner.Service<OwnerRecords>(), id);

                var written = MemoryPackSerializer.Serialize(owner.Service<RecordStore>().Snapshot(key));
                Assert.True(owner.Service<RecordStore>().Snapshot(key).Count == 1, $"{name} wrote {key} on its owner");
                foreach (var node in cluster.Nodes.Where(n => n != owner))
                {
                    var held = node.Service<RecordStore>().Snapshot(key);
                    if (cluster.HoldsKey(node, key))
                    {
                        Assert.True(written.AsSpan().SequenceEqual(MemoryPackSerializer.Serialize(held)), $"{name}: replica {node.Host.Identity.NodeId} holds {key} as written");
                    }
                    else
                    {
                        Assert.True(held.Count == 0, $"{name}: {node.Host.Identity.NodeId} is no replica of {key} and holds none of it");
                    }
                }
            }
        }
    }
}
