using System.Globalization;

namespace SocketPush.Testing;

/// <summary>
/// Node processes n1..nN on ports the OS picks: n1 first, without seeds, then every other node seeded with n1's
/// cluster endpoint. Disposing it ends them all.
/// </summary>
public sealed class NodeProcessCluster : IAsyncDisposable
{
    private readonly NodeProcessOptions _template;
    private readonly Lock _nodesLock = new();
    private readonly List<NodeProcess> _nodes = [];
    private int _lastNumber;

    private NodeProcessCluster(NodeProcessOptions template) => _template = template;

    /// <summary>The nodes in the order of their ids; the first is the seed of the others.</summary>
    public IReadOnlyList<NodeProcess> Nodes
    {
        get
        {
            lock (_nodesLock)
            {
                return [.. _nodes];
            }
        }
    }

    /// <summary>The node with the id <paramref name="nodeId"/> (<c>n1</c>, <c>n2</c>, …), killed and stopped ones included.</summary>
    public NodeProcess Node(string nodeId) => Nodes.Single(n => n.NodeId == nodeId);

    /// <summary>Starts <paramref name="count"/> nodes and waits until each has printed READY.</summary>
    /// <param name="count">How many nodes, at least 1.</param>
    /// <param name="options">
    /// What every node gets (config, arguments, environment); the id, seeds and ports are the cluster's.
    /// </param>
    public static async Task<NodeProcessCluster> StartAsync(int count, NodeProcessOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var cluster = new NodeProcessCluster(options ?? new NodeProcessOptions());
        try
        {
            // A fixed cluster port for the seed: the node prints its configured cluster port, and seeds must name a
            // real one (port 0 is refused). The others may take any port.
            var seed = await NodeProcess.StartAsync(cluster.OptionsOf(cluster.NextNumber(), FreePorts.Udp()));
            cluster.Add(seed);
            // Started together: on a busy machine each start is mostly waiting for the runtime to load.
            var others = Enumerable.Range(0, count - 1)
                .Select(_ => NodeProcess.StartAsync(cluster.OptionsOf(cluster.NextNumber(), clusterPort: 0, seed.ClusterEndpoint)))
                .ToList();
            try
            {
                await Task.WhenAll(others);
            }
            finally
            {
                // Those that did start are ended with the cluster when another one failed.
                foreach (var started in others.Where(t => t.IsCompletedSuccessfully))
                {
                    cluster.Add(started.Result);
                }
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more node, with the next id, seeded with the first node.</summary>
    public async Task<NodeProcess> AddNodeAsync()
    {
        var seed = Nodes[0];
        var node = await NodeProcess.StartAsync(OptionsOf(NextNumber(), clusterPort: 0, seed.ClusterEndpoint));
        Add(node);
        return node;
    }

    /// <summary>Ends every node (SIGTERM, then SIGKILL where needed), all at once.</summary>
    public async ValueTask DisposeAsync()
    {
        List<NodeProcess> nodes;
        lock (_nodesLock)
        {
            nodes = [.. _nodes];
            _nodes.Clear();
        }

        await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
    }

    private int NextNumber() => Interlocked.Increment(ref _lastNumber);

    private void Add(NodeProcess node)
    {
        lock (_nodesLock)
        {
            _nodes.Add(node);
            _nodes.Sort((a, b) => Number(a).CompareTo(Number(b)));
        }
    }

    private static int Number(NodeProcess node) => int.Parse(node.NodeId.AsSpan(1), CultureInfo.InvariantCulture);

    private NodeProcessOptions OptionsOf(int number, int clusterPort, params string[] seeds) => _template with
    {
        NodeId = string.Create(CultureInfo.InvariantCulture, $"n{number}"),
        Seeds = seeds,
        ClientPort = 0,
        AdminPort = 0,
        ClusterPort = clusterPort,
    };
}
