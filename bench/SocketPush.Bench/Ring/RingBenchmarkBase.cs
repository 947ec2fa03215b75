using BenchmarkDotNet.Attributes;
using SocketPush.ConsistentHashing;

namespace SocketPush.Bench.Ring;

/// <summary>The ring size every ring benchmark is parameterized by.</summary>
public abstract class RingBenchmarkBase
{
    /// <summary>Nodes on the ring.</summary>
    [Params(100)]
    public int Nodes { get; set; }

    /// <summary>Virtual nodes per node.</summary>
    [Params(HashRingOptions.DefaultVirtualNodesPerNode)]
    public int VirtualNodes { get; set; }

    protected HashRingOptions Options => new() { VirtualNodesPerNode = VirtualNodes };
}
