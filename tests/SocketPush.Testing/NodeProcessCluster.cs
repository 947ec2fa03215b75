using System.Globalization;
using System.Security.Cryptography;

namespace SocketPush.Testing;

/// <summary>
/// Node processes n1..nN on ports the OS picks: n1 first, without seeds, then every other node seeded with n1's
/// cluster endpoint. Or, on a <see cref="NetworkNamespaces"/>, node nI in host nI's namespace, bound to its address
/// (client, admin and cluster ports), on cluster port <see cref="NamespacedClusterPort"/>, seeded with every other
/// host, with an admin API key (the admin port is beyond loopback). Disposing it ends them all.
/// </summary>
public sealed class NodeProcessCluster : IAsyncDisposable
{
    /// <summary>The cluster port of every node in a namespace: each host has the namespace's ports to itself.</summary>
    public const int NamespacedClusterPort = 7946;

    private readonly NodeProcessOptions _template;
    private readonly NetworkNamespaces? _network;
    private readonly Lock _nodesLock = new();
    private readonly List<NodeProcess> _nodes = [];
    private int _lastNumber;

    private NodeProcessCluster(NodeProcessOptions template, NetworkNamespaces? network = null)
    {
        _template = template;
        _network = network;
    }

    /// <summary>
    /// Starts <paramref name="count"/> nodes, node nI in host nI of <paramref name="network"/>, all at once (each is
    /// seeded with the others' fixed endpoints), and waits until each has printed READY.
    /// </summary>
    /// <param name="count">How many nodes, at least 1 and at most the network's hosts.</param>
    /// <param name="options">
    /// What every node gets (config, arguments, environment, <see cref="NodeProcessOptions.AdminApiKey"/>: one is
    /// made when it is null); the id, namespace, bind address, seeds and ports are the cluster's. Its config must not
    /// have a <c>node:</c> or <c>admin:</c> section.
    /// </param>
    /// <param name="network">The hosts; it outlives the cluster (dispose the cluster first).</param>
    public static async Task<NodeProcessCluster> StartAsync(int count, NodeProcessOptions? options, NetworkNamespaces network)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, network.Hosts.Count);
        options ??= new NodeProcessOptions();
        var cluster = new NodeProcessCluster(
            options with { AdminApiKey = options.AdminApiKey ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) },
            network);
        try
        {
            var starts = Enumerable.Range(0, count).Select(_ => NodeProcess.StartAsync(cluster.OptionsOf(cluster.NextNumber(), NamespacedClusterPort))).ToList();
            await cluster.AddWhenStartedAsync(starts);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

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
            await cluster.AddWhenStartedAsync(others);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts one more node, with the next id, seeded with the first node; on a network, in the next host, seeded
    /// with every other host.
    /// </summary>
    /// <param name="extraConfig">Config this node gets before the cluster's own extra config (a section the cluster's does not write).</param>
    public async Task<NodeProcess> AddNodeAsync(string extraConfig = "")
    {
        var options = _network is null ? OptionsOf(NextNumber(), clusterPort: 0, Nodes[0].ClusterEndpoint) : OptionsOf(NextNumber(), NamespacedClusterPort);
        var node = await NodeProcess.StartAsync(options with { ExtraConfig = extraConfig + options.ExtraConfig });
        Add(node);
        return node;
    }

    /// <summary>
    /// Starts a node that was killed or stopped again, with its id and the cluster's options, seeded with another
    /// node that runs (not on a network). The ended process is disposed of: its output is gone from then on.
    /// </summary>
    public async Task<NodeProcess> StartAgainAsync(string nodeId)
    {
        if (_network is not null)
        {
            throw new NotSupportedException("A node of a network is started again in its host by the test itself.");
        }

        var ended = Node(nodeId);
        if (!ended.HasExited)
        {
            throw new InvalidOperationException($"{nodeId} still runs: kill or stop it first.");
        }

        lock (_nodesLock)
        {
            _nodes.Remove(ended);
        }

        await ended.DisposeAsync();
        var node = await NodeProcess.StartAsync(OptionsOf(Number(ended), clusterPort: 0, Nodes.First(n => !n.HasExited).ClusterEndpoint));
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

    /// <summary>Waits for nodes being started; those that did start are ended with the cluster when another one failed.</summary>
    private async Task AddWhenStartedAsync(IReadOnlyList<Task<NodeProcess>> starts)
    {
        try
        {
            await Task.WhenAll(starts);
        }
        finally
        {
            foreach (var started in starts.Where(t => t.IsCompletedSuccessfully))
            {
                Add(started.Result);
            }
        }
    }

    private void Add(NodeProcess node)
    {
        lock (_nodesLock)
        {
            _nodes.Add(node);
            _nodes.Sort((a, b) => Number(a).CompareTo(Number(b)));
        }
    }

    private static int Number(NodeProcess node) => int.Parse(node.NodeId.AsSpan(1), CultureInfo.InvariantCulture);

    private NodeProcessOptions OptionsOf(int number, int clusterPort, params string[] seeds)
    {
        var nodeId = string.Create(CultureInfo.InvariantCulture, $"n{number}");
        var options = _template with { NodeId = nodeId, Seeds = seeds, ClientPort = 0, AdminPort = 0, ClusterPort = clusterPort };
        if (_network is null)
        {
            return options;
        }

        if (number > _network.Hosts.Count)
        {
            throw new InvalidOperationException($"The network {_network.Subnet} has {_network.Hosts.Count} hosts, none for {nodeId}.");
        }

        var host = _network.Hosts[number - 1];
        return options with
        {
            NetworkNamespace = host.Namespace,
            BindAddress = host.Address,
            Seeds = [.. _network.Hosts.Where(h => h != host).Select(h => string.Create(CultureInfo.InvariantCulture, $"{h.Address}:{clusterPort}"))],
        };
    }
}
