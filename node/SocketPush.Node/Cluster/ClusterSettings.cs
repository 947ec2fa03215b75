using System.Globalization;

namespace SocketPush.Node.Cluster;

/// <summary>
/// The peer wire version this node speaks, and how it describes ring settings. What the node tells the
/// cluster about itself is <see cref="NodeMetadata"/>.
/// </summary>
internal static class ClusterSettings
{
    /// <summary>The version of the peer data plane's messages; a node refuses to route with a peer of another.</summary>
    public const byte WireVersion = 3;

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
