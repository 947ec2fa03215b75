namespace SocketPush.Node.Cluster;

/// <summary>
/// The copies of records this node owes other replicas: a replicated write a replica did not acknowledge, and the
/// keys whose preference lists gained a node (one died, left or joined) while this node is the first of the old
/// replicas still there. <see cref="CopyRepair"/> sends them and crosses them off on acknowledgement; until then
/// they are the re-replication backlog, and their keys are the keys below <c>cluster.replicas</c> copies. Bounded by
/// the keys this node holds: a key is owed to a node at most once.
/// </summary>
internal sealed class MissingCopies
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, HashSet<string>> _byNode = new(StringComparer.Ordinal);

    public MissingCopies(ClusterMetrics metrics) => metrics.Observe(this);

    /// <summary>Copies owed, summed over the nodes they are owed to.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _byNode.Values.Sum(keys => keys.Count);
            }
        }
    }

    public void Add(string node, string key)
    {
        lock (_gate)
        {
            if (!_byNode.TryGetValue(node, out var keys))
            {
                _byNode[node] = keys = new HashSet<string>(StringComparer.Ordinal);
            }

            keys.Add(key);
        }
    }

    /// <summary>The distinct keys with a copy owed, and up to <paramref name="sample"/> of them (sorted), for manager.status.</summary>
    public (int Keys, IReadOnlyList<string> Sample) Keys(int sample)
    {
        lock (_gate)
        {
            var keys = new HashSet<string>(_byNode.Values.SelectMany(k => k), StringComparer.Ordinal);
            return (keys.Count, [.. keys.Order(StringComparer.Ordinal).Take(sample)]);
        }
    }

    /// <summary>Crosses off what is owed no more (the node is no replica of the key now, or this node none of it).</summary>
    public void Retain(Func<string, string, bool> stillOwed)
    {
        lock (_gate)
        {
            foreach (var (node, keys) in _byNode)
            {
                keys.RemoveWhere(key => !stillOwed(node, key));
            }

            foreach (var node in _byNode.Where(n => n.Value.Count == 0).Select(n => n.Key).ToList())
            {
                _byNode.Remove(node);
            }
        }
    }

    /// <summary>Up to <paramref name="max"/> keys owed to each node, left in place until <see cref="Sent"/>.</summary>
    public Dictionary<string, string[]> Next(int max)
    {
        lock (_gate)
        {
            return _byNode.ToDictionary(n => n.Key, n => n.Value.Take(max).ToArray(), StringComparer.Ordinal);
        }
    }

    /// <summary>Crosses off copies the node acknowledged.</summary>
    public void Sent(string node, IEnumerable<string> keys)
    {
        lock (_gate)
        {
            if (_byNode.TryGetValue(node, out var owed))
            {
                owed.ExceptWith(keys);
                if (owed.Count == 0)
                {
                    _byNode.Remove(node);
                }
            }
        }
    }
}
