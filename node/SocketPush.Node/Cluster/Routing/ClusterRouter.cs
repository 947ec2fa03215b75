using System.Collections.Concurrent;
using SocketPush.Client;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Owner;

namespace SocketPush.Node.Cluster.Routing;

/// <summary>
/// Finds who answers for a key or a node: this node's own implementation of a service, or a proxy of the same
/// interface whose calls travel to the other node. A single node is a ring of one, so everything is local.
/// </summary>
internal sealed class ClusterRouter(ClusterMembership membership, PeerLinks links, LocalServices local, NodeIdentity identity)
{
    private readonly ConcurrentDictionary<(Type Service, string Node), object> _proxies = new();

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

    /// <summary>The service of the key's owner. A call that already crossed <see cref="Forwarding.MaxHops"/> nodes stays here.</summary>
    public T ForKey<T>(string key)
        where T : class
    {
        var owner = OwnerOf(key);
        return owner == LocalId || Forwarding.Hops >= Forwarding.MaxHops ? local.Get<T>() : Remote<T>(owner);
    }

    /// <summary>The service as served by one node.</summary>
    public T OnNode<T>(string nodeId)
        where T : class =>
        nodeId == LocalId ? local.Get<T>() : Remote<T>(nodeId);

    /// <summary>Every node of the ring, this one included.</summary>
    public IReadOnlyList<string> Nodes => membership.View.Ring.Nodes;

    /// <summary>Asks every node of the ring and merges the answers, sorted; one node that cannot answer fails the call.</summary>
    public async Task<IReadOnlyList<string>> UnionAsync<T>(Func<T, Task<IReadOnlyList<string>>> ask)
        where T : class
    {
        var answers = await Task.WhenAll(Nodes.Select(n => ask(OnNode<T>(n))));
        return [.. answers.SelectMany(a => a).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    /// <summary>The client URL a node advertises (its gossip metadata); this node's own without asking gossip.</summary>
    public string ClientUrlOf(string nodeId) =>
        nodeId == LocalId ? identity.ClientUrl
        : membership.View.Member(nodeId)?.Metadata?.ClientUrl
          ?? throw new ServiceException(ErrorCodes.Unavailable, $"Node {nodeId} has not told the cluster its client URL yet.");

    private T Remote<T>(string nodeId)
        where T : class =>
        (T)_proxies.GetOrAdd((typeof(T), nodeId), static (key, links) => ServiceProxy.Create<T>(new PeerInvoker(links, key.Node)), links);
}

/// <summary>This node's own implementations: the owner side of the public services and the node-to-node services.</summary>
internal sealed class LocalServices(IServiceProvider services)
{
    public T Get<T>()
        where T : class =>
        typeof(T) == typeof(IAuthService) ? (T)(object)services.GetRequiredService<AuthService>()
        : typeof(T) == typeof(IUserService) ? (T)(object)services.GetRequiredService<UserService>()
        : typeof(T) == typeof(IChannelService) ? (T)(object)services.GetRequiredService<ChannelService>()
        : services.GetRequiredService<T>();
}
