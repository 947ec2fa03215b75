namespace SocketPush.ConsistentHashing;

/// <summary>
/// Settings of a <see cref="HashRing"/>. Every node of a cluster must build its ring with the same
/// settings, or the nodes disagree about owners.
/// </summary>
public sealed class HashRingOptions
{
    /// <summary>The default of <see cref="VirtualNodesPerNode"/>, chosen by measurement (see bench/README.md).</summary>
    public const int DefaultVirtualNodesPerNode = 2000;

    /// <summary>
    /// How many points a node of weight 1 places on the ring; a node of weight w places
    /// round(w × this), at least one. More points balance the load better (the spread of a node's
    /// share shrinks like 1/√points) and cost memory and build time in proportion.
    /// </summary>
    /// <value>2000 by default.</value>
    public int VirtualNodesPerNode { get; set; } = DefaultVirtualNodesPerNode;
}
