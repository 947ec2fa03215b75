using SocketPush.Node.Cluster;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Tests;

/// <summary>
/// Real nodes n1..nN in this process (real UDP gossip and peer channel, real Kestrel, ports the OS picked), n1 the
/// seed of the others, with SWIM timings short enough for tests. Disposing it stops them all.
/// </summary>
internal sealed class TestCluster : IAsyncDisposable
{
    private readonly List<TestNode> _nodes = [];
    private readonly List<TestNode> _crashed = [];
    private readonly Action<NodeConfig>? _configure;

    private TestCluster(Action<NodeConfig>? configure) => _configure = configure;

    /// <summary>The nodes in the order they started; <c>Nodes[i]</c> has the id <c>n{i+1}</c>.</summary>
    public IReadOnlyList<TestNode> Nodes => _nodes;

    public TestNode this[int index] => _nodes[index];

    /// <summary>Starts <paramref name="count"/> nodes and waits until every ring holds all of them.</summary>
    /// <param name="count">How many nodes.</param>
    /// <param name="configure">Applied to every node's config after the cluster's own settings.</param>
    public static async Task<TestCluster> StartAsync(int count, Action<NodeConfig>? configure = null)
    {
        var cluster = new TestCluster(configure);
        try
        {
            for (var i = 0; i < count; i++)
            {
                await cluster.StartNodeAsync();
            }

            await cluster.WaitForRingsAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more node seeded with n1 and waits until every ring holds it.</summary>
    public async Task<TestNode> AddNodeAsync()
    {
        var node = await StartNodeAsync();
        await WaitForRingsAsync();
        return node;
    }

    /// <summary>Stops one node the way the host stops (a graceful leave) and waits until every other ring has dropped it.</summary>
    public async Task StopNodeAsync(TestNode node)
    {
        _nodes.Remove(node);
        await node.DisposeAsync();
        await WaitForRingsAsync();
    }

    /// <summary>
    /// Stops one node (a graceful leave), runs <paramref name="whileDown"/>, then starts it again with the same id and
    /// config, seeded with another live node, and waits until every ring holds it. Its place in <see cref="Nodes"/> is kept.
    /// </summary>
    public async Task<TestNode> RestartNodeAsync(TestNode node, Func<Task>? whileDown = null)
    {
        var index = _nodes.IndexOf(node);
        var id = node.Host.Identity.NodeId;
        await StopNodeAsync(node);
        if (whileDown is not null)
        {
            await whileDown();
        }

        var restarted = await StartNodeAsync(id);
        _nodes.Remove(restarted);
        _nodes.Insert(index, restarted);
        await WaitForRingsAsync();
        return restarted;
    }

    /// <summary>
    /// Crashes one node as far as the others can tell: its cluster port closes at once, without a leave or a
    /// handoff, so they find it dead by failure detection. Its host is disposed with the cluster.
    /// </summary>
    public async Task CrashNodeAsync(TestNode node)
    {
        _nodes.Remove(node);
        _crashed.Add(node);
        await node.Service<ClusterMembership>().Gossip.DisposeAsync();
        await WaitForRingsAsync();
    }

    /// <summary>The node that every ring names as the owner of <paramref name="key"/> (a record key such as <c>u:alice</c>).</summary>
    public TestNode OwnerOf(string key)
    {
        var owner = _nodes[0].Service<ClusterMembership>().View.Owner(key);
        return _nodes.Single(n => n.Host.Identity.NodeId == owner);
    }

    /// <summary>Whether every ring names <paramref name="node"/> as one of the replicas of <paramref name="key"/>.</summary>
    public bool HoldsKey(TestNode node, string key) =>
        _nodes[0].Service<ClusterMembership>().View.ReplicasOf(key).Contains(node.Host.Identity.NodeId);

    /// <summary>The first of <c>{prefix}0</c>, <c>{prefix}1</c>, … whose user the node <paramref name="owner"/> owns.</summary>
    public string UserOwnedBy(TestNode owner, string prefix) =>
        Enumerable.Range(0, 10_000).Select(i => $"{prefix}{i}")
            .First(u => OwnerOf("u:" + u) == owner);

    /// <summary>The first of <c>{prefix}0</c>, <c>{prefix}1</c>, … whose channel the node <paramref name="owner"/> owns.</summary>
    public string ChannelOwnedBy(TestNode owner, string prefix) =>
        Enumerable.Range(0, 10_000).Select(i => $"{prefix}{i}")
            .First(c => OwnerOf("c:" + c) == owner);

    public Task WaitForRingsAsync() =>
        Eventually.TrueAsync(
            () => _nodes.All(n => n.Service<ClusterMembership>().View.Ring.NodeCount == _nodes.Count),
            $"every node has all {_nodes.Count} in its ring");

    /// <summary>
    /// Asserts that manager.status on every node lists <paramref name="alive"/> alive members and that every node
    /// gives each member the same ring share.
    /// </summary>
    public async Task AssertStatusAgreesAsync(int alive)
    {
        var shares = new List<string>();
        foreach (var node in _nodes)
        {
            var status = await node.CallAsync("manager", "status", new { });
            var members = status.GetProperty("members").EnumerateArray().ToList();
            Assert.Equal(alive, members.Count(m => m.GetProperty("state").GetString() == "alive"));
            shares.Add(string.Join(",", members.Select(m => $"{m.GetProperty("nodeId").GetString()}={m.GetProperty("ringShare").GetDecimal()}")));
        }

        Assert.Single(shares.Distinct());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes.Concat(_crashed))
        {
            await node.DisposeAsync();
        }

        _nodes.Clear();
        _crashed.Clear();
    }

    private async Task<TestNode> StartNodeAsync(string? nodeId = null)
    {
        var id = nodeId ?? $"n{_nodes.Count + 1}";
        var seeds = _nodes.Count == 0 ? [] : new List<string> { _nodes[0].Host.Identity.ClusterEndpoint };
        var node = await TestNode.StartAsync(c =>
        {
            c.Node.Id = id;
            c.Cluster.Seeds = seeds;
            c.Cluster.Swim.ProbeInterval = TimeSpan.FromMilliseconds(200);
            c.Cluster.Swim.ProbeTimeout = TimeSpan.FromMilliseconds(100);
            c.Cluster.Swim.GossipInterval = TimeSpan.FromMilliseconds(50);
            c.Cluster.Swim.JoinRetryInterval = TimeSpan.FromMilliseconds(200);
            _configure?.Invoke(c);
        });
        _nodes.Add(node);
        return node;
    }
}

/// <summary>One three-node <see cref="TestCluster"/> shared by every test of a class (an xunit class fixture).</summary>
public class ThreeNodeClusterFixture : IAsyncLifetime
{
    internal TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(3, Configure);

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }

    /// <summary>Applied to every node's config (nothing here: the defaults).</summary>
    private protected virtual void Configure(NodeConfig config)
    {
    }
}
