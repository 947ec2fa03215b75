using System.Globalization;
using SocketPush.Gossip;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster;

/// <summary>
/// How the config maps onto the gossip library, and the peer wire version this node speaks. What the node tells the
/// cluster about itself is <see cref="NodeMetadata"/>.
/// </summary>
internal static class ClusterSettings
{
    /// <summary>The version of the peer data plane's messages; a node refuses to route with a peer of another.</summary>
    public const byte WireVersion = 2;

    public static GossipOptions Gossip(NodeConfig config, IReadOnlyList<string> resolvedSeeds)
    {
        var cluster = config.Cluster;
        return new GossipOptions
        {
            BindAddress = config.Node.BindAddress,
            Port = config.Node.ClusterPort,
            AdvertiseAddress = cluster.AdvertiseAddress.Length > 0 ? cluster.AdvertiseAddress : null,
            Seeds = [.. resolvedSeeds],
            Secret = cluster.Secret.Length > 0 ? cluster.Secret : null,
            PreviousSecret = cluster.PreviousSecret.Length > 0 ? cluster.PreviousSecret : null,
            Swim = cluster.Swim,
        };
    }

    /// <summary>The settings as a line of the log or of <c>manager.status</c> shows them: <c>wire=2 vnodes=2000 replicas=3</c>.</summary>
    public static string Describe(int wireVersion, RingSettings ring) =>
        string.Create(CultureInfo.InvariantCulture, $"wire={wireVersion} vnodes={ring.VirtualNodes} replicas={ring.Replicas}");
}

/// <summary>What every node of a cluster must agree on to compute the same owners and replicas of a key.</summary>
/// <param name="VirtualNodes">cluster.virtualNodes: ring points per node.</param>
/// <param name="Replicas">cluster.replicas: how many distinct nodes hold each key (fewer while the cluster is smaller).</param>
internal readonly record struct RingSettings(int VirtualNodes, int Replicas)
{
    public static RingSettings Of(Configuration.NodeConfig config) => new(config.Cluster.VirtualNodes, config.Cluster.Replicas);
}
